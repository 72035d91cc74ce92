"""Ledger's side of the idempotency mechanism (ledgerflow.idempotency): its records' table.

The records (ledger.models.IdempotencyKey) are written in the same database transaction as the
money movement they answer for; LedgerConfig.ready registers the model with the mechanism.
Here: the hourly purge (beat task `purge_idempotency_keys`, management command of that name).
"""

from datetime import datetime

from django.utils import timezone

from ledger.models import IdempotencyKey


def purge_expired_keys(*, now: datetime | None = None) -> int:
    """Delete expired records (beat task `purge_idempotency_keys`). Returns the count."""
    deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted
