"""HTTP side of webhooks: URL checks, signatures and the signed POST. No database access.

Endpoints may only reach public addresses (SSRF): the host is resolved and checked when the
endpoint is saved, and at delivery time the address the socket actually connected to is
checked before a byte is sent, so a DNS answer that changes later (rebinding) is caught too.
`settings.WEBHOOKS_ALLOW_PRIVATE_URLS` lifts both checks for tests and local development.

Refusals name the host as the customer gave it, never an address it resolved to, and a name that
does not resolve gets the same answer as one that resolves privately: otherwise the error would
map our internal network. The addresses go to the log for operators.
"""

import hashlib
import hmac
import ipaddress
import logging
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from webhooks.errors import EndpointUrlRefused

USER_AGENT = "LedgerFlow-Webhooks/1.0"

logger = logging.getLogger(__name__)


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 scope id
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def ensure_deliverable_url(url: str) -> None:
    """Raise EndpointUrlRefused unless `url` is http(s) and its host resolves to public IPs."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointUrlRefused("Use an absolute http:// or https:// URL.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise EndpointUrlRefused("The URL has an invalid port.") from None
    if settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        return
    host = parts.hostname
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        if not is_public_address(host):
            raise EndpointUrlRefused(f"The address {host!r} is non-public.")
        return
    refused = EndpointUrlRefused(
        f"The host {host!r} does not resolve, or resolves to a non-public address."
    )
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        logger.info("webhook URL refused: %r does not resolve", host)
        raise refused from None
    private = sorted(
        {str(sockaddr[0]) for *_, sockaddr in infos if not is_public_address(str(sockaddr[0]))}
    )
    if private:
        logger.info("webhook URL refused: %r resolves to non-public %s", host, ", ".join(private))
        raise refused


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `LedgerFlow-Signature` header value: HMAC-SHA256 over "<t>.<body>"."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class NonPublicPeer(Exception):
    """The connection reached a private/loopback/link-local/... address; nothing was sent."""


class _PublicPeerMixin:
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        peer = sock.getpeername()[0]
        if not is_public_address(peer):
            sock.close()
            host = self.host  # type: ignore[attr-defined]
            # The error is shown to the endpoint's owner: the address only goes to the log.
            logger.warning("webhook delivery refused: %r resolved to non-public %s", host, peer)
            raise NonPublicPeer(f"refused: {host!r} resolved to a non-public address")
        return sock


class _PublicHTTPConnection(_PublicPeerMixin, HTTPConnection):
    pass


class _PublicHTTPSConnection(_PublicPeerMixin, HTTPSConnection):
    pass


class _PublicHTTPPool(HTTPConnectionPool):
    ConnectionCls = _PublicHTTPConnection


class _PublicHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPSConnection


class PublicOnlyAdapter(HTTPAdapter):
    """An adapter whose sockets refuse non-public peers before the request is written."""

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _PublicHTTPPool,
            "https": _PublicHTTPSPool,
        }


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt produced: a 2xx, another status, or an error without status."""

    status_code: int | None
    error: str
    response_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post_signed(*, url: str, secret: str, event_id: str, body: bytes) -> Outcome:
    """POST `body` once, signed; never follows redirects, never raises for HTTP trouble."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "LedgerFlow-Event-Id": event_id,
        "LedgerFlow-Signature": sign(secret, timestamp, body),
    }
    session = requests.Session()
    session.trust_env = False  # an environment proxy would hide the peer address
    if not settings.WEBHOOKS_ALLOW_PRIVATE_URLS:
        session.mount("http://", PublicOnlyAdapter())
        session.mount("https://", PublicOnlyAdapter())
    started = time.monotonic()
    status_code, error = None, ""
    try:
        # stream=True: the status line is all we need; a receiver cannot make us read a body.
        with session.post(
            url,
            data=body,
            headers=headers,
            timeout=(settings.WEBHOOK_TIMEOUT_CONNECT, settings.WEBHOOK_TIMEOUT_READ),
            allow_redirects=False,
            stream=True,
        ) as response:
            status_code = response.status_code
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code} {response.reason or ''}".strip()
    except NonPublicPeer as exc:
        error = str(exc)
    except requests.Timeout as exc:
        error = f"timeout: {exc}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        session.close()
    return Outcome(status_code, error[:2000], int((time.monotonic() - started) * 1000))
