"""What a generated client and a fuzzer read from the OpenAPI document: stable verb_noun
operation ids, clean component names, the errors every operation can answer (documented by
trait in ledgerflow.schema.AutoSchema), and the webhooks LedgerFlow sends (OpenAPI 3.1)."""

import json
import re

import jsonschema
import pytest
from drf_spectacular.generators import SchemaGenerator

from ledgerflow.problem_docs import codes_for_status
from webhooks.models import EVENT_TYPES

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
PROBLEM = "application/problem+json"
# First word of every operation id: what the operation does. A new kind of action adds its verb.
VERBS = {
    "list",
    "get",
    "create",
    "update",
    "delete",
    "register",
    "obtain",
    "refresh",
    "revoke",
    "logout",
    "request",
    "confirm",
    "close",
    "deactivate",
    "reactivate",
    "set",
    "post",
    "void",
    "reverse",
    "complete",
    "fail",
    "cancel",
    "record",
    "rotate",
    "retry",
    "download",
}
VERB_NOUN = re.compile(r"[a-z]+(_[a-z0-9]+)+")


@pytest.fixture(scope="module")
def document(django_db_blocker) -> dict:
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def test_every_operation_id_is_snake_case_verb_noun(document):
    bad = [
        f"{method.upper()} {path}: {operation['operationId']}"
        for path, method, operation in operations(document)
        if not VERB_NOUN.fullmatch(operation["operationId"])
        or operation["operationId"].split("_")[0] not in VERBS
    ]

    assert bad == []


def test_operation_ids_are_unique(document):
    ids = [operation["operationId"] for _, _, operation in operations(document)]

    assert sorted({i for i in ids if ids.count(i) > 1}) == []


def test_known_operations_keep_their_ids(document):
    # Clients generated from the schema call these names: renaming one breaks them.
    paths = document["paths"]

    assert paths["/api/v1/transfers"]["post"]["operationId"] == "create_transfer"
    assert paths["/api/v1/accounts"]["get"]["operationId"] == "list_accounts"
    assert paths["/api/v1/accounts/{account_id}"]["get"]["operationId"] == "get_account"
    assert paths["/api/v1/orders"]["post"]["operationId"] == "create_order"


def test_component_names_are_clean(document):
    names = set(document["components"]["schemas"])

    assert [name for name in names if name.endswith("RequestRequest")] == []
    assert {"RegisterRequest", "TokenRequest", "TokenRefreshRequest"} <= names
    assert "TransferCreateRequest" in names


def _problem_statuses(operation: dict) -> set[str]:
    return {
        status
        for status, response in operation["responses"].items()
        if PROBLEM in response.get("content", {})
    }


def test_every_api_operation_documents_its_problem_responses(document):
    missing = []
    for path, method, operation in operations(document):
        expected = {"400", "429", "503"}
        if operation.get("security"):
            expected.add("401")
        if "{" in path:
            expected.add("404")
        if method in ("post", "patch", "put") and "requestBody" in operation:
            expected.update({"400", "413", "415"})
        lacking = expected - _problem_statuses(operation)
        if lacking:
            missing.append(f"{method.upper()} {path}: {sorted(lacking)}")

    assert missing == []


def test_permission_gated_operations_document_403(document):
    paths = document["paths"]

    for path, method in [
        ("/api/v1/deposits", "post"),
        ("/api/v1/transactions", "post"),  # journals need ledger.post_journal
        ("/api/v1/api-keys", "get"),
        ("/api/v1/admin/orders", "get"),
        ("/api/v1/orders/{order_id}/complete", "post"),
    ]:
        assert "403" in _problem_statuses(paths[path][method]), (method, path)
    # Only what the caller owns, no right needed: no 403 to document.
    assert "403" not in _problem_statuses(paths["/api/v1/accounts"]["get"])


def test_idempotent_posts_document_key_conflicts(document):
    operation = document["paths"]["/api/v1/transactions/{transaction_id}/void"]["post"]

    assert {"409", "422"} <= _problem_statuses(operation)


def test_problem_responses_point_to_the_problem_component_and_catalogue(document):
    operation = document["paths"]["/api/v1/transfers"]["post"]

    for status in ("401", "409", "429", "503"):
        response = operation["responses"][status]
        assert response["content"][PROBLEM]["schema"]["$ref"] == "#/components/schemas/Problem"
        # The description lists the codes of that status from the one catalogue.
        for doc in codes_for_status(int(status)):
            assert f"`{doc.code}`" in response["description"], (status, doc.code)
        assert "/docs/problems/" in response["description"]


def test_problem_headers_are_documented(document):
    responses = document["paths"]["/api/v1/accounts"]["get"]["responses"]

    assert responses["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert responses["429"]["headers"]["Retry-After"]["required"] is True
    assert responses["503"]["headers"]["Retry-After"]["required"] is True


def test_document_is_openapi_3_1_with_a_webhook_per_event_type(document):
    assert document["openapi"].startswith("3.1")
    webhooks = document["webhooks"]

    assert set(webhooks) == set(EVENT_TYPES)
    schemas = document["components"]["schemas"]
    for event_type, item in webhooks.items():
        body = item["post"]["requestBody"]["content"]["application/json"]
        component = schemas[body["schema"]["$ref"].rpartition("/")[2]]
        assert component["properties"]["type"]["enum"] == [event_type]
        assert set(component["required"]) == {"id", "type", "created_at", "data"}
        assert body["examples"], event_type
        assert "2XX" in item["post"]["responses"]


@pytest.mark.parametrize(
    ("event_type", "data_component"),
    [
        ("transaction.posted", "Transaction"),
        ("order.completed", "Order"),
        ("export.completed", "Export"),
        ("account.created", "AccountEventData"),
        ("balance.threshold_crossed", "BalanceThresholdCrossed"),
    ],
)
def test_webhook_data_is_the_resource_the_api_answers(document, event_type, data_component):
    body = document["webhooks"][event_type]["post"]["requestBody"]["content"]["application/json"]
    component = document["components"]["schemas"][body["schema"]["$ref"].rpartition("/")[2]]

    assert component["properties"]["data"]["$ref"] == f"#/components/schemas/{data_component}"


def test_webhook_body_matches_what_the_events_api_lists(
    document, customer, customer_client, funded
):
    """The documented body is the real one: events read back validate against it."""
    opened = customer_client.post("/api/v1/accounts", {"asset": "USD"}, format="json")
    assert opened.status_code == 201
    usdc = funded(customer, "25.000000", asset="USDC")  # transaction.posted (the deposit)
    ordered = customer_client.post(
        "/api/v1/orders", {"account": usdc.public_id, "amount": "5"}, format="json"
    )
    assert ordered.status_code == 201
    events = customer_client.get("/api/v1/events").json()["results"]

    assert {e["type"] for e in events} == {"account.created", "transaction.posted", "order.created"}
    for event in events:
        body = document["webhooks"][event["type"]]["post"]["requestBody"]["content"]
        schema = {**body["application/json"]["schema"], "components": document["components"]}
        jsonschema.validate(event, schema, cls=jsonschema.Draft202012Validator)


def test_no_openapi_3_0_nullable_is_left_in_the_3_1_document(document):
    # 3.1 validators ignore `nullable`: a null `previous` link failed its own schema.
    assert '"nullable"' not in json.dumps(document)
    page = document["components"]["schemas"]["PaginatedAccountList"]

    assert page["properties"]["previous"]["type"] == ["string", "null"]
