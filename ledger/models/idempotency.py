"""Idempotency records: the stored outcome of one (principal, key) request."""

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class IdempotencyKey(models.Model):
    """The stored outcome of one (principal, key) request, kept for IDEMPOTENCY_TTL.

    Written in the same database transaction as the effect, so the record exists exactly
    when the effect does.
    """

    principal = models.CharField(max_length=64)
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(encoder=DjangoJSONEncoder, null=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["principal", "key"], name="ledger_idempotencykey_principal_key_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.principal}:{self.key}"
