from rest_framework import exceptions

from ledgerflow.errors import DomainError, ErrorCode


class AccountLocked(DomainError):
    """Too many failed logins: even the right password is refused until the lock expires."""

    code, title, status = ErrorCode.ACCOUNT_LOCKED, "Account locked", 403

    def __init__(self, detail: str, retry_after: int, **extra: object) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class AuthenticationFailed(DomainError, exceptions.AuthenticationFailed):  # type: ignore[misc]  # `detail`: DRF types it as its ErrorDetail, DomainError as str; both are the message
    """Credentials refused, by a service (login, refresh, the money path's re-check) or by an
    authentication class. The one class for both: DRF's flow sees a DRF AuthenticationFailed
    (it drops the request's user and names the view's scheme in `auth_header`, which the 401's
    WWW-Authenticate then carries); problems.py renders it as the DomainError it is."""

    code, title, status = ErrorCode.AUTHENTICATION_FAILED, "Authentication failed", 401


class AccountInactive(DomainError):
    code, title, status = ErrorCode.ACCOUNT_INACTIVE, "Account is not active", 409


class UnknownAsset(DomainError):
    code, title, status = ErrorCode.VALIDATION_ERROR, "Unknown asset", 422


class EmailNotVerified(DomainError):
    """REQUIRE_VERIFIED_EMAIL is on and the customer has not confirmed their email yet."""

    code, title, status = ErrorCode.EMAIL_NOT_VERIFIED, "Email not verified", 403


class InvalidToken(DomainError):
    """A mailed token that is forged, tampered with, of another purpose, already used or no
    longer matching its user (the password or email changed since)."""

    code, title, status = ErrorCode.INVALID_TOKEN, "Invalid token", 400


class TokenExpired(InvalidToken):
    code, title = ErrorCode.TOKEN_EXPIRED, "Token expired"


class AccountNotEmpty(DomainError):
    code, title = ErrorCode.ACCOUNT_NOT_EMPTY, "Account balance is not zero"


class AccountHasPendingHolds(DomainError):
    code, title = ErrorCode.ACCOUNT_HAS_PENDING_HOLDS, "Account has pending holds"


class AccountHasPendingOrders(DomainError):
    code, title = ErrorCode.ACCOUNT_HAS_PENDING_ORDERS, "Account has pending orders"
