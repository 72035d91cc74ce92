"""The base view of every API endpoint: state-changing POSTs are idempotent by construction."""

from rest_framework.request import Request
from rest_framework.views import APIView


# APIView whose POST handler runs through the idempotency-key mechanism.
#
# DRF's dispatch looks the handler up after `initial()` (authentication, permissions,
# throttles), so wrapping it here covers every POST endpoint, present and future, with the
# caller already known. A test walks the URL conf to check every POST view derives from this.
# A comment, not a docstring: drf-spectacular would inherit a docstring as the description of
# every endpoint that lacks its own.
class ApiView(APIView):
    idempotent = True

    def initial(self, request: Request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        if request.method == "POST" and self.idempotent:
            from ledger.idempotency import run_idempotently

            handler = self.post

            def post(request: Request, *args, **kwargs):
                return run_idempotently(request, lambda: handler(request, *args, **kwargs))

            self.post = post


def parse(serializer_class, request: Request, *, data=None, partial: bool = False) -> dict:
    """Validate input with a serializer; invalid input raises -> 400 validation_error."""
    serializer = serializer_class(data=request.data if data is None else data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data
