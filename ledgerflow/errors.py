"""The domain error hierarchy. Services raise these; `problems.py` renders them once."""


class DomainError(Exception):
    """A business rule refused the request. Raise a subclass; problems.py renders it."""

    code, title, status = "invalid_state", "Invalid state", 409
    # Refusals worth an audit row (written after the rollback, so it survives it).
    audit_action: str | None = None

    def __init__(self, detail: str, **extra: object) -> None:
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class ValidationFailed(DomainError):
    """Input that parses but breaks a rule; `errors` maps field -> messages."""

    code, title, status = "validation_error", "Invalid request", 422

    def __init__(self, detail: str, errors: dict[str, list[str]] | None = None, **extra: object):
        super().__init__(detail, **extra)
        self.errors = errors or {}


class NotFound(DomainError):
    code, title, status = "not_found", "Not found", 404


class PermissionDenied(DomainError):
    code, title, status = "permission_denied", "Permission denied", 403


class InvalidState(DomainError):
    code, title, status = "invalid_state", "Invalid state", 409


class Contention(DomainError):
    """The database stayed contended through every retry; safe to retry later."""

    code, title, status = "contention", "Too much contention, retry", 409
    retry_after = 1


class ServiceUnavailable(DomainError):
    """A dependency (the database) is unreachable; safe to retry after `retry_after` seconds."""

    code, title, status = "service_unavailable", "Service unavailable", 503
    retry_after = 5


class PayloadTooLarge(DomainError):
    """The body exceeds DATA_UPLOAD_MAX_MEMORY_SIZE; it is not read."""

    code, title, status = "payload_too_large", "Request body too large", 413
