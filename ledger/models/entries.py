"""Entries: the legs of a transaction on one account, append-only."""

from django.db import models
from django.db.models import Q
from django.utils import timezone

from ledger.models.transactions import Transaction


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
