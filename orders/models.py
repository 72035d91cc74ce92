"""Payment orders: intents to credit an account when an on-chain payment reaches the vault."""

from django.db import models
from django.db.models import Q
from django.utils import timezone


class Order(models.Model):
    """One payment intent: `account` receives `amount` once the payment arrives in the vault.

    `amount` is positive minor units of `asset`. `sequence` numbers the account's orders
    1, 2, 3 … (assigned under the account's row lock) and, with `broker_id` and the account's
    public id, determines `order_id`. Only orders.services changes `status`: pending ->
    completed | failed | cancelled | expired, each terminal. A completed order carries the
    `tx_hash` of the payment and the `settlement` transaction that credited the account.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"
        EXPIRED = "expired"

    order_id = models.CharField(max_length=66, unique=True, help_text="0x + 64 lowercase hex.")
    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="orders")
    asset = models.ForeignKey("accounts.Asset", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Amount to credit, minor units of `asset`.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    broker_id = models.CharField(max_length=64)
    sequence = models.BigIntegerField(help_text="The account's order number: 1, 2, 3 …")
    # NULL until completed; unique among the orders that have one (partial unique index).
    tx_hash = models.CharField(max_length=66, null=True, blank=True)  # noqa: DJ001
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
        ]
        indexes = [
            models.Index(fields=["status", "created_at"]),
            models.Index(fields=["status", "expires_at"]),
            models.Index(fields=["account", "status"]),
            models.Index(fields=["account", "created_at"]),
        ]

    def __str__(self) -> str:
        return self.order_id
