"""The base view of every API endpoint: state-changing POSTs are idempotent by construction."""

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.views import APIView

from ledgerflow.errors import NotFound, PayloadTooLarge
from ledgerflow.idempotency import run_idempotently


# APIView whose POST handler runs through the idempotency-key mechanism.
#
# `dispatch` is DRF's request lifecycle (APIView.dispatch: initial() -> handler -> exception
# handling -> finalize_response) with one difference: the handler of a POST is called through
# ledgerflow.idempotency, after `initial()` (authentication, permissions, throttles: the
# caller is known) and inside DRF's exception handling, so it covers every POST endpoint,
# present and future, and a refusal is still rendered by the one exception handler. A test
# walks the URL conf to check every POST view derives from this.
# A comment, not a docstring: drf-spectacular would inherit a docstring as the description of
# every endpoint that lacks its own.
class ApiView(APIView):
    idempotent = True

    def dispatch(self, request, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            self.initial(request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), self.http_method_not_allowed)
            if request.method == "POST" and self.idempotent:
                response = run_idempotently(request, lambda: handler(request, *args, **kwargs))
            else:
                response = handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    def initial(self, request: Request, *args, **kwargs) -> None:
        # A method the view has no handler for is 405 (with `Allow`) before any other work:
        # DRF would find that out only after authentication.
        method = (request.method or "").lower()  # always set on a request DRF dispatches
        if method not in self.http_method_names or not hasattr(self, method):
            self.http_method_not_allowed(request, *args, **kwargs)
        # A body over the limit is refused unread, before authentication spends anything on it.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and _content_length(request) > limit:
            raise PayloadTooLarge(f"The request body exceeds {limit} bytes.")
        super().initial(request, *args, **kwargs)
        _refuse_nul(request, kwargs)


def _refuse_nul(request: Request, kwargs: dict) -> None:
    """NUL never belongs in an id or a filter, and PostgreSQL text cannot hold it: a query
    naming one was a 500 (found by schemathesis). An id with one names nothing (404); a query
    parameter with one is invalid (400)."""
    if any("\x00" in str(value) for value in kwargs.values()):
        raise NotFound("No such object.")
    bad = [key for key, values in request.query_params.lists() if "\x00" in key + "".join(values)]
    if bad:
        raise ValidationError({key: ["NUL characters are not allowed."] for key in bad})


def _content_length(request: Request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def parse(serializer_class, request: Request, *, data=None, partial: bool = False) -> dict:
    """Validate input with a serializer; invalid input raises -> 400 validation_error."""
    serializer = serializer_class(data=request.data if data is None else data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
