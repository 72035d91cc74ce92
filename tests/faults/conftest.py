"""Process helpers for the fault tests: real gunicorn, Celery worker and beat, a private Redis.

Every process is started by the test, logs to a file under the test's tmp_path and is stopped
by PID (its whole process group) in a finalizer. Nothing here touches the machine's shared
Redis: each stack gets a `redis-server` of its own on a free port.

The database is pytest-django's test database (`transactional_db`): the test process writes
and reads it with the ORM, the subprocesses get its name in DATABASE_URL, and the flush at the
end of the test runs after they are stopped. Works with `-n 2 --dist loadfile`.

Usage::

    pytestmark = [pytest.mark.postgres, pytest.mark.faults]

    def test_something(live_stack, webhook_receiver, customer):
        stack = live_stack(web=True, worker=True, beat=False)   # Stack, all ready
        headers = stack.auth(customer)                           # Bearer JWT for this stack
        r = stack.post("/api/v1/transfers", json={...}, headers=headers)
        stack.redis.kill()                                       # SIGKILL redis-server
        stack.redis.start()                                      # same port, empty
        stack.worker.kill()                                      # SIGKILL worker + pool children
        stack.start_worker()                                     # a fresh one, waits for ready
        wait_until(lambda: ..., timeout=60, what="deliveries")   # polls, raises with logs

Web, worker and beat run the Procfile's own command lines (what `make run` runs): only the
bind address of gunicorn is replaced. The environment is production-like (DEBUG=false).
"""

import contextlib
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
# FAULTS_PROCFILE: run another Procfile (e.g. one without ledgerflow.supervise, to see a
# fault test fail with its protection removed).
PROCFILE = Path(os.environ.get("FAULTS_PROCFILE", ROOT / "Procfile"))
REDIS_SERVER = shutil.which("redis-server")
RABBITMQCTL = shutil.which("rabbitmqctl")
AMQP_BASE = os.environ.get("FAULTS_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672")
# The subprocesses' key: tokens for them are signed with it (Stack.auth), DEBUG=false accepts it.
STACK_SECRET_KEY = "fault-tests-" + "k3y-0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"
VAULT_ADDRESS = "0x71c7656ec7ab88b098defb751b7401b5f6d8976f"
START_TIMEOUT = 90  # seconds; start-up on a loaded 2-core machine, not what the tests measure


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    predicate: Callable[[], object],
    *,
    timeout: float,
    what: str,
    interval: float = 0.2,
    logs: Callable[[], str] | None = None,
):
    """Poll `predicate` until it returns something truthy (returned); AssertionError after
    `timeout` seconds naming `what`, with `logs()` appended when given."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            tail = f"\n{logs()}" if logs else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}{tail}")
        time.sleep(interval)


# --- processes -------------------------------------------------------------------------------


@dataclass
class Process:
    """One started subprocess in its own session (process group), logging to `log`."""

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    popen: subprocess.Popen | None = None

    def start(self) -> "Process":
        with self.log.open("ab") as handle:
            self.popen = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # killpg reaches its children (prefork pool)
            )
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def logs(self, tail: int = 6000) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ({self.log}) ---\n{text[-tail:]}"

    def wait_for_log(self, needle: str, *, timeout: float = START_TIMEOUT, after: int = 0) -> None:
        """Wait until the log (from byte offset `after`) contains `needle`; fail if it exits."""

        def seen() -> bool:
            if not self.alive():
                code = self.popen.returncode if self.popen is not None else None
                raise AssertionError(f"{self.name} exited ({code})\n{self.logs()}")
            return needle.encode() in self.log.read_bytes()[after:]

        wait_until(seen, timeout=timeout, what=f"{self.name} to log {needle!r}", logs=self.logs)

    def log_size(self) -> int:
        return self.log.stat().st_size if self.log.exists() else 0

    def signal(self, sig: int) -> None:
        """Send `sig` to the main process only (e.g. SIGTERM for a warm shutdown)."""
        if self.alive():
            os.kill(self.pid, sig)

    def kill(self) -> None:
        """SIGKILL the whole process group (main process and pool children), then reap."""
        if self.popen is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL of the group if it is still there after `timeout` seconds."""
        if self.popen is not None and self.alive():
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=timeout)
        self.kill()


class RedisServer:
    """A private redis-server on a free port: no persistence, so a restart comes back empty
    (as a crashed cache without AOF does)."""

    def __init__(self, workdir: Path) -> None:
        if REDIS_SERVER is None:
            pytest.skip("redis-server is not installed")
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.process: Process | None = None
        self.starts = 0

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> "RedisServer":
        assert REDIS_SERVER is not None  # __init__ skipped the test otherwise
        argv = [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.workdir)]
        self.starts += 1
        self.process = Process(
            f"redis-{self.starts}", argv, {"PATH": os.environ["PATH"]}, self.workdir / "redis.log"
        ).start()
        wait_until(self.ping, timeout=30, what="redis-server to answer PING", logs=self.logs)
        return self

    def ping(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url(), socket_timeout=1).ping())
        except (redis.RedisError, OSError):
            return False

    def kill(self) -> None:
        """SIGKILL: the server vanishes mid-conversation, nothing is saved."""
        if self.process is not None:
            self.process.kill()

    def restart(self, down_for: float = 0.0) -> None:
        self.kill()
        time.sleep(down_for)
        self.start()

    def logs(self) -> str:
        return self.process.logs() if self.process else ""


def procfile_command(name: str) -> tuple[dict[str, str], list[str]]:
    """The Procfile's command for `name` (web, worker, beat): its leading NAME=value
    assignments (honcho runs it through a shell) and the argv after them."""
    for line in PROCFILE.read_text().splitlines():
        key, sep, command = line.partition(":")
        if sep and key.strip() == name:
            words = shlex.split(command)
            env = {}
            while words and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", words[0]):
                variable, _, value = words.pop(0).partition("=")
                env[variable] = value
            return env, words
    raise AssertionError(f"no {name!r} process in {PROCFILE}")


def procfile_argv(name: str) -> list[str]:
    """The Procfile's argv for `name`, without its leading variable assignments."""
    return procfile_command(name)[1]


def database_url() -> str:
    """The URL of the test database this test process uses (pytest-django's, per xdist worker)."""
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


class AmqpVhost:
    """A RabbitMQ vhost of one's own (deleted at teardown): queues never mix between tests."""

    def __init__(self) -> None:
        if RABBITMQCTL is None:
            pytest.skip("rabbitmqctl is not installed")
        self.name = f"lf-faults-{uuid.uuid4().hex[:10]}"
        self._ctl("add_vhost", self.name)
        self._ctl("set_permissions", "-p", self.name, "guest", ".*", ".*", ".*")

    @property
    def url(self) -> str:
        return f"{AMQP_BASE}/{self.name}"

    def _ctl(self, *args: str) -> None:
        assert RABBITMQCTL is not None  # __init__ skipped the test otherwise
        done = subprocess.run([RABBITMQCTL, *args], capture_output=True, timeout=60)
        if done.returncode:
            pytest.skip(f"rabbitmqctl {args[0]} failed: {done.stderr.decode()[-300:]}")

    def delete(self) -> None:
        assert RABBITMQCTL is not None
        subprocess.run([RABBITMQCTL, "delete_vhost", self.name], capture_output=True, timeout=60)


@dataclass
class Stack:
    """gunicorn + Celery worker + beat on the test database and a private Redis.

    `env` is what every process gets (pass `env=` to live_stack to add or override). `url` is
    gunicorn's base URL (no trailing slash). web/worker/beat are the current Process of each
    (None until started); start_*() replaces a dead one and waits until it is ready.
    """

    env: dict[str, str]
    var_dir: Path
    log_dir: Path
    redis: RedisServer | None
    broker_url: str
    web_port: int = field(default_factory=free_port)
    web: Process | None = None
    worker: Process | None = None
    beat: Process | None = None
    started: list[Process] = field(default_factory=list)
    session: requests.Session = field(default_factory=requests.Session)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.web_port}"

    def _process(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Process:
        count = sum(1 for p in self.started if p.name.startswith(name))
        process = Process(
            f"{name}-{count}",
            argv,
            {**self.env, **(env or {})},
            self.log_dir / f"{name}-{count}.log",
        )
        self.started.append(process.start())
        return process

    def start_web(self, *, workers: int | None = None, threads: int | None = None) -> Process:
        """The Procfile's gunicorn on `self.web_port` (gunicorn.conf.py reads PORT,
        WEB_CONCURRENCY and GUNICORN_THREADS); ready once /health answers 200."""
        env, argv = procfile_command("web")
        env["PORT"] = str(self.web_port)
        if workers is not None:
            env["WEB_CONCURRENCY"] = str(workers)
        if threads is not None:
            env["GUNICORN_THREADS"] = str(threads)
        # gunicorn's default control socket path is shared by every gunicorn on the machine.
        argv += ["--no-control-socket", "--worker-tmp-dir", "/dev/shm"]  # noqa: S108
        self.web = self._process("web", argv, env)
        wait_until(self._healthy, timeout=START_TIMEOUT, what="gunicorn /health", logs=self.logs)
        return self.web

    def _healthy(self) -> bool:
        if self.web is None or not self.web.alive():
            raise AssertionError(f"gunicorn exited\n{self.logs()}")
        try:
            return self.session.get(f"{self.url}/health", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def start_worker(self, *, extra_args: tuple[str, ...] = (), env=None) -> Process:
        """The Procfile's worker; ready once it logs that it consumes."""
        assigned, argv = procfile_command("worker")
        self.worker = self._process("worker", argv + list(extra_args), {**assigned, **(env or {})})
        self.worker.wait_for_log(" ready.")
        return self.worker

    def start_beat(self, env=None) -> Process:
        assigned, argv = procfile_command("beat")
        self.beat = self._process("beat", argv, {**assigned, **(env or {})})
        self.beat.wait_for_log("beat: Starting")
        return self.beat

    def logs(self) -> str:
        parts = [p.logs() for p in self.started]
        if self.redis is not None:
            parts.append(self.redis.logs())
        return "\n".join(parts)

    def stop_all(self) -> None:
        for process in reversed(self.started):
            process.stop()
        self.session.close()

    # --- HTTP --------------------------------------------------------------------------------

    def auth(self, user) -> dict[str, str]:
        """Headers with a Bearer access token for `user`, signed with the stack's key."""
        from rest_framework_simplejwt.backends import TokenBackend

        from accounts.authentication import token_pair_for

        payload = token_pair_for(user).access_token.payload
        token = TokenBackend("HS256", signing_key=STACK_SECRET_KEY).encode(payload)
        return {"Authorization": f"Bearer {token}"}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, f"{self.url}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)


def _point_celery_at(url: str, transport_options: dict) -> Callable[[], None]:
    """Make this test process publish to the stack's broker (its on_commit enqueues);
    returns the undo."""
    from kombu import pools as kombu_pools

    from ledgerflow.celery import app

    def reset_pools() -> None:
        # Celery caches its broker pools on first publish, and kombu keeps a producer pool per
        # broker URL: closing one without dropping it from kombu's registry breaks the next
        # test that publishes to that URL ("Acquire on closed pool").
        with contextlib.suppress(Exception):
            if app._pool is not None:
                app._pool.force_close_all()
        kombu_pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    previous = (app.conf.broker_url, app.conf.broker_transport_options)
    previous_env = os.environ.get("CELERY_BROKER_URL")
    # Celery's broker_url prefers the CELERY_BROKER_URL variable over the configuration.
    os.environ["CELERY_BROKER_URL"] = url
    app.conf.broker_url, app.conf.broker_transport_options = url, transport_options
    reset_pools()

    def undo() -> None:
        if previous_env is None:
            os.environ.pop("CELERY_BROKER_URL", None)
        else:
            os.environ["CELERY_BROKER_URL"] = previous_env
        app.conf.broker_url, app.conf.broker_transport_options = previous
        reset_pools()

    return undo


@pytest.fixture
def redis_server(tmp_path):
    """A started private RedisServer (function scope), killed at teardown."""
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()


@pytest.fixture
def live_stack(transactional_db, tmp_path, request):
    """Factory: `live_stack(web=True, worker=True, beat=False, redis=True, broker="redis",
    env=None) -> Stack`, every requested process ready when it returns.

    redis: True starts a private redis-server (REDIS_URL db 0; broker db 1 when broker is
    "redis"); False runs with no Redis (local-memory cache). broker: "redis", "amqp" (a RabbitMQ
    vhost of its own) or "filesystem" (the embedded default, under the stack's VAR_DIR).
    Everything is stopped by PID at teardown, before the test database is flushed.
    """
    stacks: list[Stack] = []
    undo: list[Callable[[], None]] = []

    def start(
        *,
        web: bool = True,
        worker: bool = True,
        beat: bool = False,
        redis: bool = True,
        broker: str = "redis",
        env: dict[str, str] | None = None,
    ) -> Stack:
        name = f"stack{len(stacks)}"
        base = tmp_path / name
        var_dir, log_dir = base / "var", base / "logs"
        var_dir.mkdir(parents=True)
        log_dir.mkdir()
        server = None
        if redis:
            server = RedisServer(base / "redis").start()
            undo.append(server.kill)
        transport_options: dict = {}
        if broker == "redis":
            assert server is not None, "broker='redis' needs redis=True"
            broker_url = server.url(1)
        elif broker == "amqp":
            vhost = AmqpVhost()
            undo.append(vhost.delete)
            broker_url = vhost.url
        elif broker == "filesystem":
            broker_url = "filesystem://"
            queue = var_dir / "broker"
            for sub in ("queue", "control", "processed"):
                (queue / sub).mkdir(parents=True, exist_ok=True)
            transport_options = {
                "data_folder_in": str(queue / "queue"),
                "data_folder_out": str(queue / "queue"),
                "control_folder": str(queue / "control"),
                "processed_folder": str(queue / "processed"),
                "polling_interval": 0.2,
            }
        else:
            raise ValueError(f"unknown broker {broker!r}")
        process_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "DEBUG": "false",
            "SECRET_KEY": STACK_SECRET_KEY,
            "DATABASE_URL": database_url(),
            "CELERY_BROKER_URL": broker_url,
            "VAULT_ADDRESS": VAULT_ADDRESS,
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECURE_SSL_REDIRECT": "false",
            "VAR_DIR": str(var_dir),
            "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
            "METRICS_TOKEN": "fault-tests-metrics-token",
        }
        if server is not None:
            process_env["REDIS_URL"] = server.url(0)
        process_env.update(env or {})
        stack = Stack(
            env=process_env, var_dir=var_dir, log_dir=log_dir, redis=server, broker_url=broker_url
        )
        stacks.append(stack)
        undo.append(_point_celery_at(broker_url, transport_options))
        if web:
            stack.start_web()
        if worker:
            stack.start_worker()
        if beat:
            stack.start_beat()
        return stack

    def report_logs() -> None:
        failed = getattr(request.node, "rep_call", None)
        if failed is not None and failed.failed:
            for stack in stacks:
                print(stack.logs())

    yield start
    report_logs()
    for stack in reversed(stacks):
        stack.stop_all()
    for step in reversed(undo):
        with contextlib.suppress(Exception):
            step()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Lets live_stack print the processes' logs when the test body failed.
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


# --- a webhook receiver --------------------------------------------------------------------


def subscribe(owner, url: str, events: tuple[str, ...] = ()):
    """A webhook endpoint of `owner` at `url` (a loopback receiver: the public-address check
    is the webhook tests' business, not these)."""
    from webhooks.models import WebhookEndpoint

    return WebhookEndpoint.objects.create(owner=owner, url=url, events=list(events))


@dataclass
class Hit:
    event_id: str
    event_type: str
    body: bytes
    at: float  # time.monotonic() on arrival


@dataclass
class WebhookReceiver:
    """A real HTTP server on 127.0.0.1 recording every POST (event id from its header).

    `hold` set: requests block until it is cleared (a worker stuck mid-delivery) — they are
    recorded on arrival. `status` is the answer.
    """

    url: str
    hits: list[Hit] = field(default_factory=list)
    status: int = 200
    hold: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def event_ids(self) -> set[str]:
        with self.lock:
            return {hit.event_id for hit in self.hits}

    def first_arrival(self, event_id: str) -> float | None:
        with self.lock:
            return min((h.at for h in self.hits if h.event_id == event_id), default=None)


@pytest.fixture
def webhook_receiver():
    holder: dict[str, WebhookReceiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            target = holder["r"]
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            import json

            try:
                event_type = json.loads(body).get("type", "")
            except ValueError:
                event_type = ""
            with target.lock:
                target.hits.append(
                    Hit(
                        self.headers.get("LedgerFlow-Event-Id", ""),
                        event_type,
                        body,
                        time.monotonic(),
                    )
                )
            if target.hold.is_set():
                target.release.wait(120)
            self.send_response(target.status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    holder["r"] = WebhookReceiver(url=f"http://127.0.0.1:{server.server_port}/hooks/")
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield holder["r"]
    holder["r"].release.set()
    server.shutdown()
    server.server_close()
