"""Verify (and, for tests, produce) the `LedgerFlow-Signature` header of webhook requests."""

from __future__ import annotations

import hashlib
import hmac
import time

DEFAULT_TOLERANCE = 300  # seconds; refuses replays of old requests


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The header value LedgerFlow sends: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


def verify_signature(
    secret: str,
    header: str | None,
    body: bytes,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> bool:
    """True when `header` signs the raw `body` with `secret` and is at most `tolerance` s old.

    Pass the body exactly as received, before any JSON parsing.
    """
    if not header:
        return False
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))
