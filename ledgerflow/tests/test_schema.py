"""The OpenAPI document and its offline UIs (drf-spectacular + sidecar), and the API conventions
the schema makes visible: summaries, problem+json errors, the Idempotency-Key header."""

import pytest
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
CDN_HOSTS = ("cdn.jsdelivr", "unpkg", "cdnjs", "googleapis")
# Responses that carry a credential are not stored for replay (see ApiView.idempotent).
NOT_IDEMPOTENT_PATHS = {"/api/v1/auth/token", "/api/v1/auth/token/refresh", "/api/v1/api-keys"}


@pytest.fixture(scope="module")
def schema() -> dict:
    GENERATOR_STATS.reset()
    generated = SchemaGenerator().get_schema(request=None, public=True)
    warnings = dict(GENERATOR_STATS._warn_cache)
    errors = dict(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    return {"document": generated, "warnings": warnings, "errors": errors}


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_schema_endpoint_serves_openapi_without_auth(api_client):
    response = api_client.get("/api/schema/", {"format": "json"})

    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "LedgerFlow API"
    for path in ("/api/v1/auth/token", "/api/v1/accounts", "/api/v1/api-keys"):
        assert path in document["paths"]


def test_schema_is_valid_and_generates_without_warnings(schema):
    validate_schema(schema["document"])

    assert schema["errors"] == {}
    assert schema["warnings"] == {}


@pytest.mark.parametrize("path", ["/api/docs/", "/api/redoc/"])
def test_docs_ui_is_served_from_local_static_files(api_client, path):
    response = api_client.get(path)

    assert response.status_code == 200
    html = response.content.decode()
    assert "/static/drf_spectacular_sidecar/" in html
    assert "/api/schema/" in html
    for host in CDN_HOSTS:
        assert host not in html


def test_every_operation_has_a_summary(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema["document"])
        if not operation.get("summary")
    ]

    assert missing == []


def test_error_responses_are_documented_as_problem_json(schema):
    operation = schema["document"]["paths"]["/api/v1/accounts/{account_id}"]["get"]

    content = operation["responses"]["404"]["content"]
    assert set(content) == {"application/problem+json"}
    assert content["application/problem+json"]["schema"]["$ref"].endswith("/Problem")
    assert set(operation["responses"]["200"]["content"]) == {"application/json"}


def test_every_state_changing_post_documents_the_idempotency_key(schema):
    missing = [
        path
        for path, method, operation in operations(schema["document"])
        if method == "post"
        and path not in NOT_IDEMPOTENT_PATHS
        and "Idempotency-Key" not in {p["name"] for p in operation.get("parameters", [])}
    ]

    assert missing == []


def test_auth_endpoints_need_no_security(schema):
    document = schema["document"]

    assert "security" not in document  # no global requirement to inherit
    for path in ("/api/v1/auth/register", "/api/v1/auth/token", "/api/v1/auth/token/refresh"):
        assert not document["paths"][path]["post"].get("security"), path
    assert document["paths"]["/api/v1/auth/me"]["get"]["security"]


def test_api_key_scheme_is_documented(schema):
    schemes = schema["document"]["components"]["securitySchemes"]

    assert schemes["ApiKeyAuth"]["in"] == "header"
    assert schemes["ApiKeyAuth"]["name"] == "Authorization"
    assert schemes["jwtAuth"]["scheme"] == "bearer"


# 204 answers have no body and the CSV download is a file: nothing to show as an example.
OPERATIONS_WITHOUT_EXAMPLES = {
    "DELETE /api/v1/api-keys/{key_id}",
    "DELETE /api/v1/webhook-endpoints/{endpoint_id}",
    "GET /api/v1/exports/{export_id}/download",
}


def _has_example(operation: dict) -> bool:
    bodies = [operation.get("requestBody", {}), *operation["responses"].values()]
    return any(
        media.get("examples") for body in bodies for media in body.get("content", {}).values()
    )


def test_every_operation_has_its_own_description(schema):
    bad = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema["document"])
        if path.startswith("/api/v1/")
        and (
            not operation.get("description", "").strip()
            # ApiView's own doc text would mean the description was inherited, not written.
            or "idempotency-key mechanism" in operation["description"]
        )
    ]

    assert bad == []


def test_every_operation_has_an_example(schema):
    missing = [
        f"{method.upper()} {path}"
        for path, method, operation in operations(schema["document"])
        if path.startswith("/api/v1/") and not _has_example(operation)
    ]

    assert [name for name in missing if name not in OPERATIONS_WITHOUT_EXAMPLES] == []
