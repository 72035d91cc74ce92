"""The only code that writes money.

Every movement runs in one `transaction.atomic()`: lock the touched accounts in primary-key
order, check status, asset, funds, policies and risk rules, then write the transactions, their
entries (with `balance_after` and the account version), the new balances and the outbox events
with a handful of bulk statements, and commit. A single transfer is a batch of one: one code
path serves both. Contention is retried by `retry_on_contention` (outermost call only).
"""

from ledger.services.adjustments import (
    approve_adjustment,
    propose_adjustment,
    reject_adjustment,
)
from ledger.services.books import Books, Leg, minor_amount
from ledger.services.movements import (
    post_deposit,
    post_journal,
    post_settlement,
    post_withdrawal,
    reverse_transaction,
)
from ledger.services.transfers import (
    MAX_BATCH,
    TransferItem,
    expire_holds,
    post_batch,
    post_pending,
    post_transfer,
    void_pending,
)

__all__ = [
    "MAX_BATCH",
    "Books",
    "Leg",
    "TransferItem",
    "approve_adjustment",
    "expire_holds",
    "minor_amount",
    "post_batch",
    "post_deposit",
    "post_journal",
    "post_pending",
    "post_settlement",
    "post_transfer",
    "post_withdrawal",
    "propose_adjustment",
    "reject_adjustment",
    "reverse_transaction",
    "void_pending",
]
