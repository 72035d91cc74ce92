"""The ledger's models: the books (transactions and their entries), risk configuration,
operator decisions (adjustments, holds under review), idempotency records and the
configuration version. One module each; import them from here."""

from ledger.models.adjustments import AdjustmentRequest, HoldUnderReview
from ledger.models.config import ConfigVersion
from ledger.models.entries import Entry
from ledger.models.idempotency import IdempotencyKey
from ledger.models.risk import BalanceMonitor, RiskRule
from ledger.models.transactions import Transaction

__all__ = [
    "AdjustmentRequest",
    "BalanceMonitor",
    "ConfigVersion",
    "Entry",
    "HoldUnderReview",
    "IdempotencyKey",
    "RiskRule",
    "Transaction",
]
