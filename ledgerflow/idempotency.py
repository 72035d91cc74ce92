"""Idempotency keys: one mechanism for every state-changing POST (see ledgerflow.api.ApiView).

In one atomic block (retried on contention) the request looks its key up — a stored answer
is replayed — then runs the handler inside an open write batch (ledgerflow.writes) and adds
its record, response included, to that batch: the money movement, its events and the record
are written by one statement and commit together or not at all. That is one lookup and no
write of the record's own on the hot path.

A concurrent duplicate finds no record (the first has not committed), runs, and waits for
the first's row locks; once the first commits, the duplicate either fails on the unique
(principal, key) index or is refused by a rule the first's effect changed (say, funds): in
both cases it rolls back and replays the first's stored answer, so it moves no money and
answers as the first did (and what its attempt counted is dropped: ledgerflow.metrics). On
SQLite writers are serialised, with the same outcome. Only 2xx responses are stored: a
refused request rolls back entirely and may be retried with the key.

No secret is stored: the request is kept only as a keyed fingerprint (HMAC from SECRET_KEY;
bodies may hold passwords), and fields a view marks on its response with
`response.idempotency_omit = ("secret",)` are left out of the stored copy, so a replay
answers without them (the secret was shown once, in the first response).

Project plumbing: this module imports no app. The table of records belongs to the app that
registers it (`register_record_model`, from ledger's AppConfig.ready: ledger.models
.IdempotencyKey), and an app whose authentication puts a model instance in `request.auth`
names its principals with `register_auth_principal` (accounts: API keys).
"""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from rest_framework.request import Request
from rest_framework.response import Response

from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import DomainError, ErrorCode, ValidationFailed
from ledgerflow.middleware import client_ip
from ledgerflow.writes import deferred_writes

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
OMIT_ATTRIBUTE = "idempotency_omit"  # on a Response: top-level body fields never stored
FINGERPRINT_SALT = "ledgerflow.idempotency.fingerprint"


class IdempotencyKeyReused(DomainError):
    code, title, status = ErrorCode.IDEMPOTENCY_KEY_REUSED, "Idempotency key reused", 422


class IdempotencyRequestInProgress(DomainError):
    code, title, status = (
        ErrorCode.IDEMPOTENCY_REQUEST_IN_PROGRESS,
        "A request with this key is in progress",
        409,
    )
    retry_after = 1


# --- registration (AppConfig.ready) --------------------------------------------------------

# The model of the records: fields principal, key, fingerprint, method, path, response_status,
# response_body, created_at, expires_at; unique (principal, key).
_record_model: type[models.Model] | None = None
# Type of `request.auth` -> principal prefix ("apikey" -> "apikey:<pk>").
_auth_principals: dict[type, str] = {}


def register_record_model(model: type[models.Model]) -> None:
    """The table the records live in (ledger registers ledger.models.IdempotencyKey)."""
    global _record_model
    _record_model = model


def register_auth_principal(auth_type: type, prefix: str) -> None:
    """Requests whose `request.auth` is an `auth_type` act as `<prefix>:<request.auth.pk>`."""
    _auth_principals[auth_type] = prefix


def record_model() -> Any:
    # Any: the registered model's manager and fields are known only at run time.
    if _record_model is None:
        raise ImproperlyConfigured(
            "No idempotency record model registered (ledgerflow.idempotency.register_record_model)."
        )
    return _record_model


# --- the mechanism -------------------------------------------------------------------------


def principal_of(request: Request) -> str:
    for auth_type, prefix in _auth_principals.items():
        if isinstance(request.auth, auth_type):
            return f"{prefix}:{getattr(request.auth, 'pk', '')}"
    if request.user and request.user.is_authenticated:
        return f"user:{request.user.pk}"
    # Anonymous callers (registration): one namespace per client address, as the throttles
    # see it (REMOTE_ADDR, or the address NUM_PROXIES trusted proxies forwarded), so nobody
    # replays, or collides with, a stranger's request by guessing their key.
    return f"anon:{client_ip(request) or 'unknown'}"


def fingerprint(request: Request) -> str:
    body = request.data if isinstance(request.data, dict | list) else str(request.data)
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    raw = f"{request.method}\n{request.path}\n{canonical}"
    # Keyed: without the server's key the stored value cannot be recomputed from a guessed body.
    return salted_hmac(FINGERPRINT_SALT, raw, algorithm="sha256").hexdigest()


def run_idempotently(request: Request, handler: Callable[[], Response]) -> Response:
    key = request.headers.get(HEADER)
    if key is None:
        return handler()
    if not 1 <= len(key) <= 255:
        raise ValidationFailed(
            "Idempotency-Key must be 1-255 characters.", {HEADER: ["1-255 characters."]}
        )
    return _run_once(request, key, fingerprint(request), handler)


@retry_on_contention
def _run_once(request: Request, key: str, print_: str, handler: Callable[[], Response]) -> Response:
    record = record_model()
    principal = principal_of(request)
    refused = False  # the handler raised a DomainError (not the replay of another request)
    try:
        with transaction.atomic():
            now = timezone.now()
            existing = record.objects.filter(principal=principal, key=key).first()
            if existing is not None:
                if existing.expires_at > now:
                    return _replay(existing, print_)
                existing.delete()  # an expired record does not bind: run afresh
            with deferred_writes() as batch:
                try:
                    response = handler()
                except DomainError:
                    refused = True
                    raise
                if not 200 <= response.status_code < 300:
                    transaction.set_rollback(True)
                    return response
                batch.insert(
                    record,
                    [
                        record(
                            principal=principal,
                            key=key,
                            fingerprint=print_,
                            method=request.method,
                            path=request.path[:255],
                            response_status=response.status_code,
                            response_body=_storable_body(response),
                            created_at=now,
                            expires_at=now + timedelta(seconds=settings.IDEMPOTENCY_TTL),
                        )
                    ],
                )
                batch.flush()
            return response
    except IntegrityError:
        # The unique (principal, key) index: a duplicate committed first. Answer as it did.
        stored = record.objects.filter(principal=principal, key=key).first()
        if stored is None:
            raise
        metrics.drop_held_counts()  # this attempt's work was rolled back: the replay stands
        return _replay(stored, print_)
    except DomainError:
        # Refused, perhaps because a duplicate committed its effect while we waited for its
        # locks (the funds are gone): then its answer is ours. Otherwise the refusal stands.
        if not refused:
            raise
        stored = record.objects.filter(principal=principal, key=key).first()
        if stored is None:
            raise
        metrics.drop_held_counts()  # not a refusal after all: the first request's answer
        return _replay(stored, print_)


def _storable_body(response: Response) -> Any:
    omit = getattr(response, OMIT_ATTRIBUTE, ())
    if omit and isinstance(response.data, dict):
        return {name: value for name, value in response.data.items() if name not in omit}
    return response.data


def _replay(record: Any, print_: str) -> Response:
    if record.fingerprint != print_:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request.",
        )
    metrics.IDEMPOTENT_REPLAYS.inc()
    return Response(
        record.response_body,
        status=record.response_status,
        headers={REPLAYED_HEADER: "true"},
    )
