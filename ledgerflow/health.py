"""Liveness, readiness and the metrics endpoint (outside the API prefix, no user auth).

/metrics takes `Authorization: Bearer <METRICS_TOKEN>` when a token is set; with DEBUG false
and no token it is refused (403), so production never serves it to anyone.
"""

import hmac
import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from ledgerflow import metrics as lf_metrics
from ledgerflow.errors import ErrorCode
from ledgerflow.middleware import get_request_id
from ledgerflow.problems import PROBLEM_CONTENT_TYPE, WWW_AUTHENTICATE, problem_body

logger = logging.getLogger(__name__)


@require_GET
def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


# Seconds a dependency may take to answer before /ready reports it down.
CHECK_TIMEOUT = 2


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_cache() -> None:
    key = f"ready:{get_request_id()}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was written")


def _check_broker() -> None:
    from ledgerflow.celery import app

    # One attempt, bounded by socket timeouts: kombu's defaults retry and may block forever
    # on a broker that accepts the connection but never answers.
    with app.connection_for_write(
        connect_timeout=CHECK_TIMEOUT, transport_options={"socket_timeout": CHECK_TIMEOUT}
    ) as conn:
        conn.ensure_connection(max_retries=0)


CHECKS = {"database": _check_database, "cache": _check_cache, "broker": _check_broker}


@require_GET
def ready(request: HttpRequest) -> JsonResponse:
    down = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception:
            # The exception names hosts, ports and users: the log gets it, the anonymous
            # caller only learns which dependency is down.
            logger.warning("ready: %s check failed", name, exc_info=True)
            down[name] = "unreachable"
    if not down:
        return JsonResponse({"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")})
    body = problem_body(
        status_code=503,
        code=ErrorCode.SERVICE_UNAVAILABLE,
        title="Not ready",
        detail=f"Unreachable: {', '.join(sorted(down))}.",
        down=down,
    )
    return JsonResponse(body, status=503, content_type=PROBLEM_CONTENT_TYPE)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    if not token and not settings.DEBUG:
        # Production never serves metrics to anyone who asks: they show traffic, volumes by
        # asset and failure rates. Without a configured token the endpoint stays shut.
        body = problem_body(
            status_code=403,
            code=ErrorCode.PERMISSION_DENIED,
            title="Permission denied",
            detail="/metrics is disabled: set METRICS_TOKEN and scrape with that bearer token.",
        )
        return JsonResponse(body, status=403, content_type=PROBLEM_CONTENT_TYPE)
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            code, title = (
                (ErrorCode.AUTHENTICATION_FAILED, "Authentication failed")
                if offered
                else (ErrorCode.NOT_AUTHENTICATED, "Authentication required")
            )
            body = problem_body(
                status_code=401,
                code=code,
                title=title,
                detail="Send Authorization: Bearer <METRICS_TOKEN>.",
            )
            response = JsonResponse(body, status=401, content_type=PROBLEM_CONTENT_TYPE)
            response["WWW-Authenticate"] = WWW_AUTHENTICATE
            return response
    # Every process's samples plus the state read now (outbox backlog, holds, queues).
    return lf_metrics.export(request)
