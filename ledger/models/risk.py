"""Risk configuration: limits checked inside every outgoing movement, balance monitors."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledgerflow.money import money_text


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
