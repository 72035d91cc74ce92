"""A real HTTP receiver on 127.0.0.1 and helpers shared by the webhook tests."""

import hashlib
import hmac
import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """Records every POST. `statuses` scripts the next answers, then `status` is used."""

    url: str
    status: int = 200
    statuses: deque = field(default_factory=deque)
    delay: float = 0.0  # seconds to sleep before answering the next requests
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)

    def wait_for(self, count: int, timeout: float = 30) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.requests) >= count, f"got {len(self.requests)} of {count} requests"
        return self.requests


@pytest.fixture
def receiver():
    holder: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            target = holder["receiver"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            target.requests.append(Received(dict(self.headers.items()), body))
            target.arrived.set()
            if target.delay:
                time.sleep(target.delay)
            status = target.statuses.popleft() if target.statuses else target.status
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{target.url}redirected")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["receiver"] = Receiver(url=f"http://127.0.0.1:{server.server_port}/hooks/")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield holder["receiver"]
    server.shutdown()
    server.server_close()


@pytest.fixture
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens: connection refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/down"


@pytest.fixture
def private_urls_allowed(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def fast_retries(settings):
    """Backoff of zero: an eager retry is due the moment it runs."""
    settings.WEBHOOK_BACKOFF_BASE = 0
    settings.WEBHOOK_TIMEOUT_CONNECT = 2
    settings.WEBHOOK_TIMEOUT_READ = 2


def verify_signature(
    header: str, body: bytes, secret: str, *, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does (the README snippet): check t is recent, compare the HMAC."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs((now or time.time()) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), parts["v1"])
