from ledgerflow.errors import DomainError


class AccountLocked(DomainError):
    """Too many failed logins: even the right password is refused until the lock expires."""

    code, title, status = "account_locked", "Account locked", 403

    def __init__(self, detail: str, retry_after: int, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class AuthenticationFailed(DomainError):
    code, title, status = "authentication_failed", "Authentication failed", 401


class AccountInactive(DomainError):
    code, title, status = "account_inactive", "Account is not active", 409


class UnknownAsset(DomainError):
    code, title, status = "validation_error", "Unknown asset", 422
