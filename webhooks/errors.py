"""Webhook domain errors (rendered by ledgerflow.problems)."""

from ledgerflow.errors import DomainError, ErrorCode, ValidationFailed


class EndpointUrlRefused(ValidationFailed):
    """The URL is not http(s) or its host resolves to a non-public address (422 on `url`)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"url": [detail]})


class EndpointLimitReached(DomainError):
    code, title, status = ErrorCode.LIMIT_EXCEEDED, "Too many webhook endpoints", 422
