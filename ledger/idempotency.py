"""Idempotency keys: one mechanism for every state-changing POST (see ledgerflow.api.ApiView).

In one atomic block (retried on contention) the request claims `(principal, key)` by
inserting its record, runs the handler and stores the response on that row, so the money
movement, its event and the record commit together or not at all. A concurrent duplicate
blocks on the unique index until the first commits, then replays its stored response
(PostgreSQL); on SQLite writers are serialised, with the same outcome. Only 2xx responses
are stored: a refused request rolls back entirely and may be retried with the same key.
"""

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import ApiKey
from ledger.errors import IdempotencyKeyReused, IdempotencyRequestInProgress
from ledger.models import IdempotencyKey
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import ValidationFailed

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
PENDING_STATUS = 0  # a claimed row whose response is not stored yet


def principal_of(request: Request) -> str:
    if isinstance(request.auth, ApiKey):
        return f"apikey:{request.auth.pk}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    # Anonymous callers (registration): scope by the key alone.
    return "anonymous"


def fingerprint(request: Request) -> str:
    body = request.data if isinstance(request.data, dict | list) else str(request.data)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    raw = f"{request.method}\n{request.path}\n{canonical}".encode()
    return hashlib.sha256(raw).hexdigest()


def run_idempotently(request: Request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 characters.", {HEADER: ["1-255 characters."]}
        )
    return _claim_and_run(request, key, fingerprint(request), handler)


@retry_on_contention
def _claim_and_run(
    request: Request, key: str, print_: str, handler: Callable[[], Response]
) -> Response:
    principal = principal_of(request)
    with transaction.atomic():
        now = timezone.now()
        try:
            with transaction.atomic():
                record = IdempotencyKey.objects.create(
                    principal=principal,
                    key=key,
                    fingerprint=print_,
                    method=request.method,
                    path=request.path[:255],
                    response_status=PENDING_STATUS,
                    expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_TTL),
                )
        except IntegrityError:
            record = None
        if record is None:
            existing = (
                IdempotencyKey.objects.select_for_update()
                .filter(principal=principal, key=key)
                .first()
            )
            if existing is None:  # purged between our insert and this read: try again
                raise IdempotencyRequestInProgress("Retry the request.")
            if existing.expires_at <= now:
                existing.delete()  # expired records do not bind; claim afresh
                return _claim_and_run.__wrapped__(request, key, print_, handler)
            return _replay(existing, print_)
        response = handler()
        if 200 <= response.status_code < 300:
            record.response_status = response.status_code
            record.response_body = response.data
            record.save(update_fields=["response_status", "response_body"])
        else:
            transaction.set_rollback(True)
        return response


def _replay(record: IdempotencyKey, print_: str) -> Response:
    if record.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request.",
        )
    if record.response_status == PENDING_STATUS:
        raise IdempotencyRequestInProgress("A request with this key is still running.")
    metrics.IDEMPOTENT_REPLAYS.inc()
    return Response(
        record.response_body,
        status=record.response_status,
        headers={REPLAYED_HEADER: "true"},
    )


def purge_expired_keys(*, now=None) -> int:
    """Delete expired records (beat task `purge_idempotency_keys`). Returns the count."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
