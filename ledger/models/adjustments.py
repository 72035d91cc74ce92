"""Operator decisions on money: manual adjustments (four eyes) and holds under review."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ledger.models.transactions import Transaction


class AdjustmentRequest(models.Model):
    """A manual correction of one account, proposed by one operator, decided by another.

    `amount` is positive minor units of the account's asset; `direction` says whether the
    account is credited or debited, against the asset's `adjustments` system account. Only an
    approval posts money: the `adjustment` transaction is linked in `transaction`.
    proposed -> approved | rejected, each terminal.
    """

    class Direction(models.TextChoices):
        CREDIT = "credit"
        DEBIT = "debit"

    class Status(models.TextChoices):
        PROPOSED = "proposed"
        APPROVED = "approved"
        REJECTED = "rejected"

    account = models.ForeignKey("accounts.Account", on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField(help_text="Positive, minor units of the account's asset.")
    direction = models.CharField(max_length=6, choices=Direction.choices)
    # Short enough that "adjustment {id}: {reason}" fits a transaction reference.
    reason = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    transaction = models.ForeignKey(
        Transaction, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gt=0), name="ledger_adjustmentrequest_amount_pos"
            ),
            # Four eyes, also in the database: the decider is never the proposer.
            models.CheckConstraint(
                condition=~Q(decided_by=F("proposed_by")),
                name="ledger_adjustmentrequest_four_eyes",
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(transaction__isnull=False),
                name="ledger_adjustmentrequest_approved_has_transaction",
            ),
        ]
        permissions = [
            ("request_adjustment", "Can propose a manual adjustment"),
            ("approve_adjustment", "Can approve or reject a manual adjustment"),
        ]

    def __str__(self) -> str:
        return f"adjustment {self.pk}"


class HoldUnderReview(Transaction):
    """The pending transactions a `review` risk rule sent to operators (same rows)."""

    class Meta:
        proxy = True
        verbose_name = "hold under review"
        verbose_name_plural = "holds under review"
        permissions = [("review_hold", "Can approve or decline a hold under review")]
