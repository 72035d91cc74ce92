"""Payment orders: intents to credit an account when an on-chain payment reaches the vault."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Order(models.Model):
    """One payment intent: `account` receives `amount` once the payment arrives in the vault.

    `amount` is positive minor units of `asset`. `sequence` numbers the account's orders
    1, 2, 3 … (assigned under the account's row lock) and, with `broker_id` and the account's
    public id, determines `order_id`. Only orders.services changes `status`: pending ->
    completed | failed | cancelled | expired | needs_review, and needs_review -> completed |
    failed; the others are terminal. A completed order carries the `tx_hash` of the payment
    and the `settlement` transaction that credited the account. An order in `needs_review`
    received a payment (`tx_hash`) of `received_amount` instead of `amount`: an operator
    completes it (crediting what arrived) or fails it.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"
        NEEDS_REVIEW = "needs_review"

    order_id = models.CharField(max_length=66, unique=True, help_text="0x + 64 lowercase hex.")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    asset = models.ForeignKey("accounts.Asset", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Amount to credit, minor units of `asset`.")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    broker_id = models.CharField(max_length=64)
    sequence = models.BigIntegerField(help_text="The account's order number: 1, 2, 3 …")
    # NULL until paid; unique among the orders that have one (partial unique index).
    tx_hash = models.CharField(max_length=66, null=True, blank=True)  # noqa: DJ001
    received_amount = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="What an indexer saw arrive when it differs from `amount`, minor units.",
    )
    vault_address = models.CharField(max_length=128)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)
    settlement = models.ForeignKey(
        "ledger.Transaction", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_order_amount_positive"),
            models.CheckConstraint(
                condition=Q(sequence__gte=1), name="orders_order_sequence_positive"
            ),
            models.UniqueConstraint(
                fields=["account", "sequence"], name="orders_order_account_sequence_unique"
            ),
            models.UniqueConstraint(
                fields=["tx_hash"],
                condition=Q(tx_hash__isnull=False),
                name="orders_order_tx_hash_unique",
            ),
            # A completed order always shows the payment and the money it moved.
            models.CheckConstraint(
                condition=~Q(status="completed")
                | Q(tx_hash__isnull=False, settlement__isnull=False, completed_at__isnull=False),
                name="orders_order_completed_has_settlement",
            ),
            # An order under review shows the payment and what it paid.
            models.CheckConstraint(
                condition=~Q(status="needs_review")
                | Q(tx_hash__isnull=False, received_amount__isnull=False),
                name="orders_order_review_has_payment",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["account", "status"]),
            models.Index(fields=["account", "created_at"]),
        ]
        permissions = [("record_deposit", "Can report on-chain deposits (indexer feed)")]

    def __str__(self) -> str:
        return self.order_id


class Deposit(models.Model):
    """One on-chain payment to the vault that an indexer reported, once per `tx_hash`.

    `amount` is what the payment carried, positive minor units of its order's asset;
    `confirmations` the most the indexer has reported. `status` is what the feed decided:
    `pending` (seen, below ORDER_MIN_CONFIRMATIONS, nothing settled yet), `settled` (its
    order completed with this tx_hash) or `needs_review` (the amount differed from the
    order's; the order went to the operator queue). Only orders.services writes it.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SETTLED = "settled"
        NEEDS_REVIEW = "needs_review"

    tx_hash = models.CharField(max_length=66, unique=True, help_text="0x + 64 lowercase hex.")
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="deposits")
    amount = models.BigIntegerField(help_text="Amount paid, minor units of the order's asset.")
    confirmations = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="orders_deposit_amount_positive"
            ),
        ]
        indexes = [models.Index(fields=["order", "status"])]

    def __str__(self) -> str:
        return self.tx_hash
