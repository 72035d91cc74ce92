"""Writing the audit log. `audit` imports no other app: targets are any model instance."""

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import models, transaction
from django.http import HttpRequest

from audit.models import AuditLog
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import DomainError
from ledgerflow.middleware import client_ip, current_request, get_request_id

T = TypeVar("T")
logger = logging.getLogger("audit")

# Never copied into the log: credentials and their hashes.
SECRET_FIELDS = frozenset({"password", "hashed_key", "secret"})


def record_audit(
    actor: Any,
    action: str,
    target: models.Model | None,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    request: HttpRequest | None = None,
) -> AuditLog:
    """Append one audit row in the caller's transaction (call it inside the action's atomic)."""
    (row,) = record_audits(actor, [(action, target, before, after)], request=request)
    return row


def record_audits(
    actor: Any,
    rows: list[tuple[str, models.Model | None, dict[str, Any] | None, dict[str, Any] | None]],
    request: HttpRequest | None = None,
) -> list[AuditLog]:
    """Append many `(action, target, before, after)` rows with one bulk insert.

    Without `request`, the request being served (if any) supplies the address and request id.
    """
    request = request or current_request.get()
    ip_address = client_ip(request) if request is not None else None
    request_id = getattr(request, "request_id", "") or _current_request_id()
    return AuditLog.objects.bulk_create(
        [
            AuditLog(
                actor=actor if actor is not None and actor.pk else None,
                action=action,
                target_type=target._meta.label if target is not None else "",
                target_id=str(target.pk) if target is not None and target.pk is not None else "",
                target_repr=str(target)[:200] if target is not None else "",
                before=before,
                after=after,
                ip_address=ip_address,
                request_id=request_id,
            )
            for action, target, before, after in rows
        ]
    )


@retry_on_contention
@transaction.atomic
def audited(
    *,
    request: HttpRequest,
    action: str,
    target: models.Model,
    run: Callable[[], T],
    after: Callable[[T], dict[str, Any]] | None = None,
) -> T:
    """Run one service call and audit it in one transaction, retried together on contention.

    `before` is the target's state read inside the transaction (after the service's locks
    would be taken, it may be a moment older; it is what the operator saw). `after` turns the
    service's result into the logged state; by default the target's refreshed state.
    """
    before = state_of(target)
    result = run()
    if after is not None:
        after_state = after(result)
    else:
        target.refresh_from_db()
        after_state = state_of(target)
    record_audit(request.user, action, target, before, after_state, request)
    return result


def audit_refusal(sender: type, exc: DomainError, **kwargs: Any) -> None:
    """The audit row of a refusal worth one (its class names an `audit_action`): connected to
    ledgerflow.db.refused, which the refused service unit sends once its transaction has
    rolled back, so the row is its own. The actor is the user of the request being served.
    A row that cannot be written is logged: the refusal still answers as itself, never 500."""
    if not exc.audit_action:
        return
    request = current_request.get()
    actor = getattr(request, "user", None)
    try:
        with transaction.atomic():
            record_audit(
                actor if getattr(actor, "is_authenticated", False) else None,
                exc.audit_action,
                None,
                None,
                {"code": exc.code, "detail": exc.detail, **exc.extra},
            )
    except Exception:
        logger.exception("could not audit the refusal %s (%s)", exc.audit_action, exc.code)


def state_of(obj: models.Model) -> dict[str, Any]:
    """A row's concrete fields (foreign keys as ids) and many-to-many ids, secrets left out."""
    state: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        if field.name not in SECRET_FIELDS:
            state[field.attname] = field.value_from_object(obj)
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            state[field.name] = sorted(getattr(obj, field.name).values_list("pk", flat=True))
    return state


def _current_request_id() -> str:
    request_id = get_request_id()
    return "" if request_id == "-" else request_id
