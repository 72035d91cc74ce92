"""What schemathesis found against the live schema (tests/fuzz/run_schemathesis.py), kept as
regression tests: each request gets an answer the schema documents, never a 500.

Each answer is checked against the OpenAPI document itself: the status is one the operation
lists, the content type is the one listed for it, and the body validates against its schema.
"""

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def assert_conforms(document: dict, path: str, method: str, response) -> None:
    responses = document["paths"][path][method]["responses"]
    status = str(response.status_code)
    assert status in responses, f"{method.upper()} {path}: {status} is not documented"
    content_type = response["Content-Type"].split(";")[0]
    content = responses[status].get("content", {})
    assert content_type in content, f"{status}: {content_type} not in {sorted(content)}"
    schema = {**content[content_type]["schema"], "components": document["components"]}
    jsonschema.validate(response.json(), schema, cls=jsonschema.Draft202012Validator)


def test_a_time_offset_postgresql_cannot_store_is_answered(document, customer_client):
    # Python parses +16:19; PostgreSQL refuses offsets past 15:59 (a 500 before).
    response = customer_client.get(
        "/api/v1/transactions",
        {"created_before": "0041-09-25T03:54:20.93+16:19", "kind": "adjustment"},
    )

    assert response.status_code == 200
    assert_conforms(document, "/api/v1/transactions", "get", response)


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/api/v1/transactions", {"account": "acc_\x00x"}),
        ("/api/v1/transactions", {"category": "a\x00b"}),
        ("/api/v1/accounts", {"cursor": "\x00"}),
    ],
)
def test_nul_in_a_query_parameter_is_400(document, customer_client, path, query):
    response = customer_client.get(path, query)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert list(response.json()["errors"]) == list(query)
    assert_conforms(document, path, "get", response)


def test_nul_in_a_path_id_is_404(document, customer_client):
    response = customer_client.get("/api/v1/accounts/acc_%00x")

    assert response.status_code == 404
    assert_conforms(document, "/api/v1/accounts/{account_id}", "get", response)


def test_operator_queue_answers_the_documented_page(document, staff_client):
    response = staff_client.get("/api/v1/admin/orders", {"limit": 2})

    assert response.status_code == 200
    assert set(response.json()) == {"total_count", "limit", "offset", "results"}
    assert_conforms(document, "/api/v1/admin/orders", "get", response)


def test_customer_listing_api_keys_gets_a_documented_403(document, customer_client):
    response = customer_client.get("/api/v1/api-keys")

    assert response.status_code == 403
    assert_conforms(document, "/api/v1/api-keys", "get", response)


def test_invalid_query_parameter_gets_a_documented_400(document, customer_client):
    response = customer_client.get("/api/v1/transactions", {"created_after": "0"})

    assert response.status_code == 400
    assert_conforms(document, "/api/v1/transactions", "get", response)


def test_malformed_idempotency_key_on_an_action_gets_a_documented_422(
    document, customer_client, customer, account_factory
):
    account = account_factory(owner=customer, asset__code="USDC")
    order = customer_client.post(
        "/api/v1/orders", {"account": account.public_id, "amount": "5"}, format="json"
    ).json()

    response = customer_client.post(
        f"/api/v1/orders/{order['order_id']}/cancel", HTTP_IDEMPOTENCY_KEY="x" * 256
    )

    assert response.status_code == 422
    assert_conforms(document, "/api/v1/orders/{order_id}/cancel", "post", response)


def test_forged_cursor_gets_a_documented_404(document, customer_client):
    response = customer_client.get("/api/v1/webhook-endpoints", {"cursor": "é"})

    assert response.status_code == 404
    assert_conforms(document, "/api/v1/webhook-endpoints", "get", response)


def test_unthrottled_success_conforms_too(document, customer_client):
    response = customer_client.get("/api/v1/accounts")

    assert response.status_code == 200
    assert_conforms(document, "/api/v1/accounts", "get", response)
