"""Reporting rows: balance snapshots, CSV exports and verification runs.

The tables were created by the ledger app (ledger/migrations/0003_reporting) and keep their
names: reporting's migration 0001 took the models over without touching the database.
"""

import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class BalanceSnapshot(models.Model):
    """An account's balances at `taken_at`, written by beat only when they changed.

    Money columns are minor units of the account's asset; `version` is the account version
    (sequence number of its last entry) at that instant.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    balance = models.BigIntegerField(help_text="Posted balance, minor units.")
    pending_debits = models.BigIntegerField(help_text="Held outflows, minor units.")
    pending_credits = models.BigIntegerField(help_text="Held inflows, minor units.")
    version = models.BigIntegerField(help_text="Account version at the snapshot.")
    taken_at = models.DateTimeField()

    class Meta:
        db_table = "ledger_balancesnapshot"
        constraints = [
            # Also the index behind "latest snapshot per account"; unique so that latest is
            # one row and a join on it can never duplicate an account.
            models.UniqueConstraint(
                fields=["account", "taken_at"], name="ledger_balancesnapshot_account_taken_at"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}@{self.taken_at:%Y-%m-%dT%H:%M:%SZ} v{self.version}"


def _export_public_id() -> str:
    return f"exp_{secrets.token_hex(12)}"


class Export(models.Model):
    """One asynchronous CSV export requested by `owner`.

    pending -> running -> completed | failed; a completed export's file is deleted after
    EXPORT_RETENTION_DAYS and the row becomes `expired`. No `account` means all the owner's
    accounts.
    """

    class Kind(models.TextChoices):
        ENTRIES = "entries"
        TRANSACTIONS = "transactions"

    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"
        EXPIRED = "expired"

    public_id = models.CharField(max_length=64, unique=True, default=_export_public_id)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    period_from = models.DateTimeField(null=True, blank=True)
    period_to = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    row_count = models.PositiveBigIntegerField(null=True, blank=True)
    file = models.FileField(blank=True, help_text="Name in the default storage.")
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "ledger_export"
        indexes = [
            models.Index(fields=["owner", "created_at"]),
            models.Index(fields=["status", "completed_at"]),
        ]

    def __str__(self) -> str:
        return self.public_id


class VerificationRun(models.Model):
    """The outcome of one `verify_ledger` run; the admin index shows the latest."""

    checked_at = models.DateTimeField(db_index=True)
    violation_count = models.PositiveIntegerField()
    details = models.JSONField(
        encoder=DjangoJSONEncoder, default=dict, help_text="Offending rows per check."
    )

    class Meta:
        db_table = "ledger_verificationrun"

    def __str__(self) -> str:
        return f"{self.checked_at:%Y-%m-%d %H:%M} {self.violation_count} violation(s)"
