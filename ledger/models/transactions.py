"""Transactions: journal entries, posted or pending (holds)."""

import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone


def _transaction_public_id() -> str:
    return f"txn_{secrets.token_hex(12)}"


class Transaction(models.Model):
    """One journal entry: a set of entries that sum to zero per asset.

    `amount` is the headline amount in minor units of `asset` (what moved from the payer's
    point of view); the entries carry the truth. A `pending` transaction holds funds through
    the accounts' pending columns and has no entries until it is posted.
    """

    class Kind(models.TextChoices):
        TRANSFER = "transfer"
        DEPOSIT = "deposit"
        WITHDRAWAL = "withdrawal"
        ORDER_SETTLEMENT = "order_settlement"
        REVERSAL = "reversal"
        ADJUSTMENT = "adjustment"
        JOURNAL = "journal"

    class HoldReason(models.TextChoices):
        """Why a pending transaction waits (blank: an ordinary hold, settled by its creator)."""

        REVIEW = "review", "Risk review"

    class Status(models.TextChoices):
        PENDING = "pending"
        POSTED = "posted"
        VOIDED = "voided"

    public_id = models.CharField(max_length=64, unique=True, default=_transaction_public_id)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.POSTED)
    asset = models.ForeignKey("accounts.Asset", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Headline amount, minor units of `asset`.")
    reference = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=64, blank=True)
    metadata = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # Two-phase transfers: a pending transaction holds `held_amount` from `hold_from` to
    # `hold_to` until it is posted (fully or partly), voided, or expires at `expires_at`.
    hold_from = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    hold_to = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    held_amount = models.BigIntegerField(null=True, blank=True, help_text="Minor units held.")
    expires_at = models.DateTimeField(null=True, blank=True)
    hold_reason = models.CharField(
        max_length=20,
        blank=True,
        choices=HoldReason.choices,
        help_text='"review" when a risk rule sent it to operators.',
    )
    # OneToOne: a transaction can be reversed once only, enforced by the unique index.
    reverses = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="ledger_transaction_amount_pos"),
        ]
        indexes = [
            models.Index(fields=["kind", "created_at"]),
            models.Index(fields=["status", "created_at"]),
            models.Index(
                fields=["expires_at"],
                condition=Q(status="pending"),
                name="ledger_txn_pending_expiry_idx",
            ),
        ]
        # The API's operator rights (accounts.permissions); the admin checks the same ones.
        permissions = [
            ("reverse_transaction", "Can reverse a posted transaction"),
            ("deposit", "Can deposit into any account"),
            ("withdraw_any", "Can withdraw from any account"),
            ("transfer_any", "Can move money out of any account and settle its holds"),
            ("post_journal", "Can post a general journal"),
        ]

    def __str__(self) -> str:
        return self.public_id
