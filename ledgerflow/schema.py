"""OpenAPI helpers: the problem+json component, the Idempotency-Key header, the auth schemes."""

from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers

from ledgerflow.problems import PROBLEM_CONTENT_TYPE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; `code` is stable and what clients should branch on."""

    type = serializers.CharField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    request_id = serializers.CharField()
    errors = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


_DESCRIPTIONS = {
    400: "Malformed request or invalid fields (`validation_error`).",
    401: "`not_authenticated` or `authentication_failed`.",
    403: "`permission_denied` or `account_locked`.",
    404: "`not_found` (also for objects that belong to someone else).",
    409: "Conflict: `insufficient_funds`, `account_inactive`, `invalid_state`, "
    "`too_many_pending_orders`, `idempotency_request_in_progress`, `contention`.",
    422: "`validation_error`, `asset_mismatch`, `idempotency_key_reused`, `limit_exceeded`.",
    429: "`rate_limited`, with Retry-After.",
    503: "A dependency is down.",
}


def problem_responses(*codes: int) -> dict:
    """`responses=` entries for error statuses, served as application/problem+json."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=_DESCRIPTIONS.get(code, "Problem details.")
        )
        for code in codes
    }


IDEMPOTENCY_KEY_HEADER = OpenApiParameter(
    name="Idempotency-Key",
    type=str,
    location=OpenApiParameter.HEADER,
    required=False,
    description=(
        "1-255 characters, unique per logical operation. A retry with the same key and body "
        "replays the first response (`Idempotent-Replayed: true`) and changes nothing."
    ),
)


class ClaimsJWTScheme(SimpleJWTScheme):
    """simplejwt's Bearer scheme: the project's subclass only skips a database read."""

    target_class = "accounts.authentication.ClaimsJWTAuthentication"


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>` for servers.",
        }
