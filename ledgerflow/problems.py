"""The one exception handler: every API error becomes RFC 9457 application/problem+json."""

import logging
from typing import Any

from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.defaults import bad_request, page_not_found, permission_denied, server_error
from rest_framework import exceptions, status
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

from ledgerflow.errors import (
    DomainError,
    ErrorCode,
    PayloadTooLarge,
    ServiceUnavailable,
    ValidationFailed,
)
from ledgerflow.middleware import current_request, get_request_id

logger = logging.getLogger("ledgerflow.problems")
PROBLEM_CONTENT_TYPE = "application/problem+json"
# RFC 9110: a 401 must say how to authenticate, also when the view itself has no authenticator.
WWW_AUTHENTICATE = 'Bearer realm="api"'
_INTERNAL = "An unexpected error occurred; quote the request id when reporting it."
_TOO_LARGE_DETAIL = "The request body exceeds the size limit."

# DRF exception class -> stable problem code (DESIGN §4).
_DRF_CODES: list[tuple[type[exceptions.APIException], ErrorCode, str]] = [
    (exceptions.NotAuthenticated, ErrorCode.NOT_AUTHENTICATED, "Authentication required"),
    (exceptions.AuthenticationFailed, ErrorCode.AUTHENTICATION_FAILED, "Authentication failed"),
    (exceptions.PermissionDenied, ErrorCode.PERMISSION_DENIED, "Permission denied"),
    (exceptions.NotFound, ErrorCode.NOT_FOUND, "Not found"),
    (exceptions.MethodNotAllowed, ErrorCode.METHOD_NOT_ALLOWED, "Method not allowed"),
    (exceptions.NotAcceptable, ErrorCode.NOT_ACCEPTABLE, "Not acceptable"),
    (exceptions.UnsupportedMediaType, ErrorCode.UNSUPPORTED_MEDIA_TYPE, "Unsupported media type"),
    (exceptions.Throttled, ErrorCode.RATE_LIMITED, "Too many requests"),
    (exceptions.ParseError, ErrorCode.PARSE_ERROR, "Malformed request body"),
    (exceptions.ValidationError, ErrorCode.VALIDATION_ERROR, "Invalid request"),
]
# Codes answered without a DomainError class or a DRF exception: (code, status, title).
HANDLER_CODES: list[tuple[ErrorCode, int, str]] = [
    (ErrorCode.INTERNAL_ERROR, 500, "Internal server error"),
    (ErrorCode.BAD_REQUEST, 400, "Bad request"),
]


PROBLEM_DOCS_PATH = "/docs/problems/"


def problem_type(code: str) -> str:
    """PROBLEM_BASE_URL + code; by default the code's page on this server (absolute, from the
    request being answered; relative where there is none or its host is not allowed)."""
    from django.conf import settings

    if settings.PROBLEM_BASE_URL:
        return f"{settings.PROBLEM_BASE_URL}{code}"
    request = current_request.get()
    if request is not None:
        try:
            return request.build_absolute_uri(f"{PROBLEM_DOCS_PATH}{code}")
        except DisallowedHost:  # the 400 for a Host header outside ALLOWED_HOSTS
            pass
    return f"{PROBLEM_DOCS_PATH}{code}"


def problem_body(*, status_code: int, code: str, title: str, detail: str, **extra: Any) -> dict:
    body = {
        "type": problem_type(code),
        "title": title,
        "status": status_code,
        "detail": detail,
        "code": code,
        "request_id": get_request_id(),
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    return body


class ProblemResponse(Response):
    """Rendered as JSON whatever the view negotiated: the schema and docs views speak YAML/HTML."""

    @property
    def rendered_content(self):
        if not isinstance(getattr(self, "accepted_renderer", None), JSONRenderer):
            self.accepted_renderer, self.accepted_media_type = JSONRenderer(), "application/json"
        return super().rendered_content


def problem_response(
    *, status_code: int, code: str, title: str, detail: str, headers: dict | None = None, **extra
) -> Response:
    body = problem_body(status_code=status_code, code=code, title=title, detail=detail, **extra)
    return ProblemResponse(
        body, status=status_code, headers=headers, content_type=PROBLEM_CONTENT_TYPE
    )


def field_errors(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {str(k): _flatten(v) for k, v in data.items()}
    return {"non_field_errors": _flatten(data)}


def _flatten(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}: {m}" for k, v in value.items() for m in _flatten(v)]
    if isinstance(value, list | tuple):
        return [m for item in value for m in _flatten(item)]
    return [str(value)]


def problem_exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, RequestDataTooBig):  # something read `request.body` past the limit
        exc = PayloadTooLarge(_TOO_LARGE_DETAIL)
    elif isinstance(exc, OperationalError | InterfaceError):
        # The database is down or dropped the connection (contention is retried, then 409, by
        # `retry_on_contention`). Django discards the broken connection when the request ends;
        # the next one reconnects. The message may name the host and user: log it only.
        logger.warning("database unavailable", exc_info=exc)
        exc = ServiceUnavailable("The database is unavailable; retry the request shortly.")
    if isinstance(exc, DomainError):
        set_rollback()
        headers = {}
        if retry_after := getattr(exc, "retry_after", None):
            headers["Retry-After"] = str(retry_after)
        if exc.status == status.HTTP_401_UNAUTHORIZED:
            # The view's scheme when DRF named one (an authentication class refused), as for
            # DRF's own 401s below.
            headers["WWW-Authenticate"] = getattr(exc, "auth_header", None) or WWW_AUTHENTICATE
        domain_extra = dict(exc.extra)
        if isinstance(exc, ValidationFailed) and exc.errors:
            domain_extra["errors"] = exc.errors
        return problem_response(
            status_code=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            headers=headers,
            **domain_extra,
        )
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)  # DRF: headers, WWW-Authenticate, Retry-After
    if response is None:
        # A bug, not a client error: log it with the request id and answer a problem, not HTML.
        logger.error("unhandled error", exc_info=exc)
        set_rollback()
        return problem_response(
            status_code=status.HTTP_500_INTERNAL_SERVER_ERROR,
            code=ErrorCode.INTERNAL_ERROR,
            title="Internal server error",
            detail=_INTERNAL,
        )
    code, title = ErrorCode.ERROR, "Error"
    for cls, known_code, known_title in _DRF_CODES:
        if isinstance(exc, cls):
            code, title = known_code, known_title
            break
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        extra["errors"] = field_errors(exc.detail)
        detail = "The request has invalid fields."
    else:
        raw: Any = getattr(exc, "detail", exc)
        # simplejwt's InvalidToken carries {"detail": ..., "messages": [...]}.
        detail = str(raw.get("detail", "") if isinstance(raw, dict) else raw)
    # DRF sends 403 for failed auth when no WWW-Authenticate exists; we always use 401.
    if (
        code in (ErrorCode.NOT_AUTHENTICATED, ErrorCode.AUTHENTICATION_FAILED)
        and response.status_code == 403
    ):
        response.status_code = status.HTTP_401_UNAUTHORIZED
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response.headers.setdefault("WWW-Authenticate", WWW_AUTHENTICATE)
    headers = {k: v for k, v in response.items() if k.lower() != "content-type"}
    return problem_response(
        status_code=response.status_code,
        code=code,
        title=title,
        detail=detail,
        headers=headers,
        **extra,
    )


def _api_problem(status_code: int, code: str, title: str, detail: str) -> JsonResponse:
    body = problem_body(status_code=status_code, code=code, title=title, detail=detail)
    return JsonResponse(body, status=status_code, content_type=PROBLEM_CONTENT_TYPE)


def not_found_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    """`handler404`: unknown paths under /api/ answer problem+json; others Django's page."""
    if not request.path.startswith("/api/"):
        return page_not_found(request, exception)
    return _api_problem(404, ErrorCode.NOT_FOUND, "Not found", f"No endpoint at {request.path}.")


# Exempt, or a POST to an unknown path would meet the CSRF check first: an HTML 403.
@csrf_exempt
def api_not_found(request: HttpRequest) -> HttpResponse:
    """The catch-all for unknown paths under /api/."""
    return not_found_view(request, Http404())


# Django's own error views, for what fails outside a DRF view (middleware, a non-DRF view):
# under /api/ they answer problem+json as well.
def bad_request_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return bad_request(request, exception)
    if isinstance(exception, RequestDataTooBig):
        return _api_problem(413, PayloadTooLarge.code, PayloadTooLarge.title, _TOO_LARGE_DETAIL)
    return _api_problem(400, ErrorCode.BAD_REQUEST, "Bad request", "The request is malformed.")


def permission_denied_view(request: HttpRequest, exception: Exception) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return permission_denied(request, exception)
    return _api_problem(403, ErrorCode.PERMISSION_DENIED, "Permission denied", "Not allowed.")


def server_error_view(request: HttpRequest) -> HttpResponse:
    if not request.path.startswith("/api/"):
        return server_error(request)
    return _api_problem(500, ErrorCode.INTERNAL_ERROR, "Internal server error", _INTERNAL)
