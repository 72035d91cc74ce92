"""The books: transactions (journal entries) and their entries, plus idempotency records."""

import secrets

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledgerflow.money import money_text


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
        max_length=20, blank=True, help_text='"review" when a risk rule sent it to operators.'
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


class Entry(models.Model):
    """One leg of a transaction on one account. Append-only.

    `amount` is signed minor units: positive raises the account's balance. `balance_after` is
    the account's balance right after this entry and `account_version` its sequence number
    (1, 2, 3 … with no gaps), both written under the account's row lock.
    """

    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    asset = models.ForeignKey("accounts.Asset", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Signed, minor units; positive raises balance.")
    balance_after = models.BigIntegerField(help_text="Account balance after this entry, minor.")
    account_version = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_not_zero"),
            models.CheckConstraint(
                condition=Q(account_version__gte=1), name="ledger_entry_version_positive"
            ),
            models.UniqueConstraint(
                fields=["account", "account_version"], name="ledger_entry_account_version_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["account", "created_at"]),
            # The commit-time balance check sums a transaction's entries per asset: this index
            # answers it directly, whatever the table's statistics say.
            models.Index(fields=["transaction", "asset"], name="ledger_entry_txn_asset_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.account_id}#{self.account_version} {self.amount:+d}"


class RiskRule(models.Model):
    """A limit checked inside the locked transaction of every outgoing movement.

    Scope: the asset, optionally narrowed to one account or one user's accounts. `limit` is
    minor units for amount rules and a count for `max_transfers_per_minute`.
    """

    class Kind(models.TextChoices):
        MAX_AMOUNT = "max_amount", "Maximum single transfer amount"
        MAX_DAILY_OUTFLOW = "max_daily_outflow", "Maximum outflow per rolling 24 h"
        MAX_TRANSFERS_PER_MINUTE = "max_transfers_per_minute", "Maximum transfers per minute"
        REVIEW_THRESHOLD = "review_threshold", "Amount at or above which operators review"

    class Action(models.TextChoices):
        REJECT = "reject"
        REVIEW = "review"

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=Kind.choices)
    action = models.CharField(max_length=10, choices=Action.choices, default=Action.REJECT)
    asset = models.ForeignKey("accounts.Asset", on_delete=models.CASCADE, related_name="+")
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    limit = models.BigIntegerField(help_text="Minor units, or a count for transfers per minute.")
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(limit__gte=0), name="ledger_riskrule_limit_pos"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()} {self.limit_text}, {self.action})"

    @property
    def limit_text(self) -> str:
        """The limit as people read it: "250.00 USD", or "10" transfers for a count rule."""
        if self.kind == self.Kind.MAX_TRANSFERS_PER_MINUTE:
            return str(self.limit)
        return money_text(self.limit, self.asset)


class BalanceMonitor(models.Model):
    """Records `balance.threshold_crossed` when a movement takes the balance across
    `threshold` in `direction` (once per crossing, not on every movement beyond it)."""

    class Direction(models.TextChoices):
        BELOW = "below"
        ABOVE = "above"

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")
    threshold = models.BigIntegerField(help_text="Minor units.")
    direction = models.CharField(max_length=5, choices=Direction.choices)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        threshold = money_text(self.threshold, self.account.asset)
        return f"{self.account.public_id} {self.direction} {threshold}"


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


class ConfigVersion(models.Model):
    """One row (pk 1): a version that database triggers replace, with a value never used
    before, whenever configuration a money movement reads changes (see ledger/config.py)."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"config version {self.version}"


from ledger.adjustment_models import AdjustmentRequest, HoldUnderReview  # noqa: E402,F401
from ledger.reporting_models import BalanceSnapshot, Export, VerificationRun  # noqa: E402,F401
