from accounts.errors import AccountInactive  # noqa: F401 - re-exported for ledger callers
from ledgerflow.errors import DomainError, ErrorCode, ValidationFailed
from ledgerflow.idempotency import (  # noqa: F401 - re-exported: the mechanism's own
    IdempotencyKeyReused,
    IdempotencyRequestInProgress,
)


class InsufficientFunds(DomainError):
    code, title, status = ErrorCode.INSUFFICIENT_FUNDS, "Insufficient funds", 409


class AssetMismatch(DomainError):
    code, title, status = ErrorCode.ASSET_MISMATCH, "Accounts hold different assets", 422


class UnbalancedTransaction(ValidationFailed):
    """A journal whose entries do not sum to zero per asset."""


class LimitExceeded(DomainError):
    """A risk rule or an account policy (maximum balance) refused the movement."""

    code, title, status = ErrorCode.LIMIT_EXCEEDED, "Limit exceeded", 422
    audit_action = "risk.rejected"
