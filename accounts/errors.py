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


class EmailNotVerified(DomainError):
    """REQUIRE_VERIFIED_EMAIL is on and the customer has not confirmed their email yet."""

    code, title, status = "email_not_verified", "Email not verified", 403


class InvalidToken(DomainError):
    """A mailed token that is forged, tampered with, of another purpose, already used or no
    longer matching its user (the password or email changed since)."""

    code, title, status = "invalid_token", "Invalid token", 400


class TokenExpired(InvalidToken):
    code, title = "token_expired", "Token expired"


class AccountNotEmpty(DomainError):
    code, title = "account_not_empty", "Account balance is not zero"


class AccountHasPendingHolds(DomainError):
    code, title = "account_has_pending_holds", "Account has pending holds"


class AccountHasPendingOrders(DomainError):
    code, title = "account_has_pending_orders", "Account has pending orders"
