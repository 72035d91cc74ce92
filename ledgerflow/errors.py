"""The domain error hierarchy and the one list of problem codes.

Services raise `DomainError` subclasses; `problems.py` renders them once. Every `code` a
problem can carry is an `ErrorCode` member (the strings are the public contract, DESIGN §4):
the exception classes, the renderer and the problem catalogue (ledgerflow.problem_docs, which
the OpenAPI descriptions and /docs/problems/ read) all name codes through it.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Every problem `code`; what each means to a client is written in problem_docs."""

    # Request shape and protocol (DRF's exceptions, problems.py's own answers).
    VALIDATION_ERROR = "validation_error"
    PARSE_ERROR = "parse_error"
    BAD_REQUEST = "bad_request"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    SERVICE_UNAVAILABLE = "service_unavailable"
    CONTENTION = "contention"
    INTERNAL_ERROR = "internal_error"
    ERROR = "error"  # an HTTP error DRF raised that has no code of its own
    # Identity (accounts).
    ACCOUNT_LOCKED = "account_locked"
    EMAIL_NOT_VERIFIED = "email_not_verified"
    INVALID_TOKEN = "invalid_token"
    TOKEN_EXPIRED = "token_expired"
    # Business rules.
    INVALID_STATE = "invalid_state"
    ACCOUNT_INACTIVE = "account_inactive"
    ACCOUNT_NOT_EMPTY = "account_not_empty"
    ACCOUNT_HAS_PENDING_HOLDS = "account_has_pending_holds"
    ACCOUNT_HAS_PENDING_ORDERS = "account_has_pending_orders"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    ASSET_MISMATCH = "asset_mismatch"
    LIMIT_EXCEEDED = "limit_exceeded"
    TOO_MANY_PENDING_ORDERS = "too_many_pending_orders"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    IDEMPOTENCY_REQUEST_IN_PROGRESS = "idempotency_request_in_progress"


class DomainError(Exception):
    """A business rule refused the request. Raise a subclass; problems.py renders it."""

    code: ErrorCode = ErrorCode.INVALID_STATE
    title, status = "Invalid state", 409
    # Refusals worth an audit row: written by the service layer once the refused unit's
    # transaction has rolled back (ledgerflow.db.refused, audit.services), so it survives it.
    audit_action: str | None = None

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class ValidationFailed(DomainError):
    """Input that parses but breaks a rule; `errors` maps field -> messages."""

    code, title, status = ErrorCode.VALIDATION_ERROR, "Invalid request", 422

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, **extra: object):
        super().__init__(detail, **extra)
        self.errors = errors or {}


class NotFound(DomainError):
    code, title, status = ErrorCode.NOT_FOUND, "Not found", 404


class PermissionDenied(DomainError):
    code, title, status = ErrorCode.PERMISSION_DENIED, "Permission denied", 403


class InvalidState(DomainError):
    code, title, status = ErrorCode.INVALID_STATE, "Invalid state", 409


class Contention(DomainError):
    """The database stayed contended through every retry; safe to retry later."""

    code, title, status = ErrorCode.CONTENTION, "Too much contention, retry", 409
    retry_after = 1


class ServiceUnavailable(DomainError):
    """A dependency (the database) is unreachable; safe to retry after `retry_after` seconds."""

    code, title, status = ErrorCode.SERVICE_UNAVAILABLE, "Service unavailable", 503
    retry_after = 5


class PayloadTooLarge(DomainError):
    """The body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE; it is not read."""

    code, title, status = ErrorCode.PAYLOAD_TOO_LARGE, "Request body too large", 413
