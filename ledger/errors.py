from accounts.errors import AccountInactive  # noqa: F401 - re-exported for ledger callers
from ledgerflow.errors import DomainError, ValidationFailed


class InsufficientFunds(DomainError):
    code, title, status = "insufficient_funds", "Insufficient funds", 409


class AssetMismatch(DomainError):
    code, title, status = "asset_mismatch", "Accounts hold different assets", 422


class UnbalancedTransaction(ValidationFailed):
    """A journal whose entries do not sum to zero per asset."""


class IdempotencyKeyReused(DomainError):
    code, title, status = "idempotency_key_reused", "Idempotency key reused", 422


class IdempotencyRequestInProgress(DomainError):
    code, title, status = (
        "idempotency_request_in_progress",
        "A request with this key is in progress",
        409,
    )
    retry_after = 1


class LimitExceeded(DomainError):
    """A risk rule or an account policy (maximum balance) refused the movement."""

    code, title, status = "limit_exceeded", "Limit exceeded", 422
    audit_action = "risk.rejected"
