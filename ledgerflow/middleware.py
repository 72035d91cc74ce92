"""Request id: accepted from the client when well-formed, else generated; echoed and logged."""

import contextvars
import ipaddress
import logging
import re
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default="-"
)
# The request being served, for code far from the view that records who did something from
# where (the audit log); None outside a request (Celery, management commands).
current_request: contextvars.ContextVar[HttpRequest | None] = contextvars.ContextVar(
    "current_request", default=None
)


def get_request_id() -> str:
    return current_request_id.get()


def client_ip(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or the one NUM_PROXIES trusted proxies saw.

    Same rule as the API throttles (a client-sent X-Forwarded-For is not trusted otherwise).
    """
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES") or 0
    hops = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    hops = [hop for hop in hops if hop]
    if proxies and hops:
        address = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        return None


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _VALID_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        # Read back with getattr (audit.services); HttpRequest declares no such attribute.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = current_request_id.set(request_id)
        request_token = current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            current_request_id.reset(token)
            current_request.reset(request_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Puts the current request id on every log record (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id.get()
        return True
