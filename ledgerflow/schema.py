"""OpenAPI helpers: the problem+json component, the Idempotency-Key header, the auth schemes, and
the project's AutoSchema, which documents the errors every endpoint can return from its traits.

Descriptions of error responses come from the problem catalogue (ledgerflow.problem_docs), the
same list that the /docs/problems/ page shows, so the two cannot drift apart.
"""

from drf_spectacular import openapi
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.pagination import CursorPagination

from ledgerflow.money import AmountField
from ledgerflow.problem_docs import codes_for_status, status_phrase
from ledgerflow.problems import PROBLEM_CONTENT_TYPE, PROBLEM_DOCS_PATH, WWW_AUTHENTICATE


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details; `code` is stable and what clients should branch on."""

    type = serializers.CharField(
        help_text=f"The code's entry in the problem documentation ({PROBLEM_DOCS_PATH}<code>)."
    )
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    code = serializers.CharField()
    request_id = serializers.CharField()
    # The problem's `errors` field shadows Serializer.errors in the stubs (a declared field).
    errors = serializers.DictField(  # type: ignore[assignment]
        child=serializers.ListField(child=serializers.CharField()), required=False
    )


def problem_description(status: int) -> str:
    """`Conflict: insufficient_funds (Insufficient funds), ...` from the problem catalogue."""
    codes = ", ".join(f"`{doc.code}` ({doc.title})" for doc in codes_for_status(status))
    return f"{status_phrase(status)}: {codes or 'see `code`'}. Codes are explained at " + (
        f"{PROBLEM_DOCS_PATH}."
    )


def problem_responses(*codes: int) -> dict:
    """`responses=` entries for error statuses, served as application/problem+json."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=problem_description(code)
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

# Headers that always come with a problem of that status (ledgerflow.problems sets them).
_PROBLEM_HEADERS = {
    "401": {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "required": True,
            "description": f"How to authenticate: `{WWW_AUTHENTICATE}`.",
        }
    },
    "429": {
        "Retry-After": {
            "schema": {"type": "integer"},
            "required": True,
            "description": "Seconds to wait before the next request.",
        }
    },
    "503": {
        "Retry-After": {
            "schema": {"type": "integer"},
            "required": True,
            "description": "Seconds to wait before retrying.",
        }
    },
}
_OPEN_PERMISSIONS = (permissions.AllowAny, permissions.IsAuthenticated)


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema plus the project's conventions.

    Error responses by trait, so that no view has to list them (a view's own
    `problem_responses(...)` adds the codes of its business rules and wins on a clash):
    - any API operation: 400 (a malformed request: NUL in the query string, a bad header)
      and 503 `service_unavailable` (the database may be gone);
    - authenticated: 401; gated by an operator right or staff status: 403;
    - a path parameter, or cursor pagination (a cursor it did not hand out): 404;
    - throttled: 429; a request body: 413 and 415;
    - idempotent POST: 409 (the key's first request still running) and 422 (key reused
      with another body, or a malformed key).

    Component names: input serializers named `...RequestSerializer` become `...Request`,
    not `...RequestRequest` (COMPONENT_SPLIT_REQUEST appends `Request` to input components).
    """

    def get_serializer_name(self, serializer, direction) -> str:
        name = super().get_serializer_name(serializer, direction)
        if (
            direction == "request"
            and spectacular_settings.COMPONENT_SPLIT_REQUEST
            and name.endswith("RequestSerializer")
            and name != "RequestSerializer"
        ):
            return name.removesuffix("RequestSerializer") + "Serializer"
        return name

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, AmountField) and schema:
            # What AmountField accepts as text: plain ASCII decimal notation (a fuzzer then
            # sends amounts that reach the money rules rather than only parse errors).
            sign = "-?" if field.signed else ""
            schema = {**schema, "pattern": rf"^{sign}([0-9]{{1,18}}(\.[0-9]{{1,18}})?)$"}
        return schema

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        # Webhooks are documented through mocked views at "/": their responses are the
        # receiver's, not ours.
        if not self.path.startswith("/api/"):
            return responses
        for status in sorted(self.problem_statuses()):
            key = str(status)
            if key not in responses:
                responses[key] = self._get_response_for_code(
                    OpenApiResponse(ProblemSerializer, description=problem_description(status)),
                    key,
                    media_types=[PROBLEM_CONTENT_TYPE],
                    direction=direction,
                )
        for key, response in responses.items():
            if key in _PROBLEM_HEADERS and PROBLEM_CONTENT_TYPE in response.get("content", {}):
                response.setdefault("headers", {}).update(_PROBLEM_HEADERS[key])
        return dict(sorted(responses.items()))

    def problem_statuses(self) -> set[int]:
        statuses = {400, 503}
        if self.get_auth():
            statuses.add(401)
        if self._is_permission_gated():
            statuses.add(403)
        if "{" in self.path or self._is_cursor_paginated():
            statuses.add(404)
        if self.view.get_throttles():
            statuses.add(429)
        has_body = self.method in ("POST", "PUT", "PATCH") and (
            self.get_request_serializer() is not None
        )
        if has_body:
            statuses.update((413, 415))
        if self.method == "POST" and getattr(self.view, "idempotent", False):
            statuses.update((409, 422))
        return statuses

    def _is_permission_gated(self) -> bool:
        return any(
            not isinstance(permission, _OPEN_PERMISSIONS)
            for permission in self.view.get_permissions()
        )

    def _is_cursor_paginated(self) -> bool:
        return (
            self.method == "GET"
            and self._is_list_view()
            and isinstance(self._get_paginator(), CursorPagination)
        )


def nullable_to_oas31(result, generator, request, public):
    """POSTPROCESSING_HOOKS: OpenAPI 3.1 has no `nullable`; DRF's pagination schemas still
    say `nullable: true` (`next`/`previous`), which 3.1 validators ignore, so a `null` cursor
    link failed validation. Rewrite it as the JSON Schema type list `[..., "null"]`."""

    def walk(node):
        if isinstance(node, dict):
            if node.pop("nullable", False) is True and isinstance(node.get("type"), str):
                node["type"] = [node["type"], "null"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if spectacular_settings.OAS_VERSION.startswith("3.1"):
        walk(result)
    return result


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
