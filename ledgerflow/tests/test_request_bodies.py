"""Bodies the server will not read: too large is 413, too deeply nested 400, never a 500.

Like test_problems, this module is also a test-only URL conf, for bodies read outside a DRF
view or through `request.body`.
"""

import io
import json

import pytest
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from rest_framework.exceptions import ParseError
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import Account
from conftest import client_for
from ledger.models import IdempotencyKey, Transaction
from ledgerflow.api import ApiView
from ledgerflow.errors import PayloadTooLarge
from ledgerflow.parsers import MAX_JSON_DEPTH, DecimalJSONParser
from ledgerflow.tests.test_methods import api_routes
from ledgerflow.urls import handler400  # noqa: F401  the real URL conf's handler, used here

pytestmark = pytest.mark.django_db


class RawBodyApi(ApiView):
    permission_classes = [AllowAny]

    def put(self, request: Request) -> Response:
        return Response({"length": len(request._request.body)})


def plain_django_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"length": len(request.body)})


urlpatterns = [
    path("api/test/raw-body", RawBodyApi.as_view()),
    path("api/test/plain-body", plain_django_view),
    path("", include("ledgerflow.urls")),
]
with_test_urls = pytest.mark.urls(__name__)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


def nothing_written() -> tuple[int, int, int]:
    return Account.objects.count(), Transaction.objects.count(), IdempotencyKey.objects.count()


@pytest.fixture
def superuser_client(user_factory):
    return client_for(user_factory(is_staff=True, is_superuser=True))


def test_a_5_mb_transfer_is_413(customer_client, customer, funded):
    source, target = funded(customer), funded(customer, "0.00")
    before = nothing_written()
    body = json.dumps(
        {
            "from_account": source.public_id,
            "to_account": target.public_id,
            "amount": "1.00",
            "reference": "x" * (5 * 1024 * 1024),
        }
    )

    response = customer_client.post(
        "/api/v1/transfers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="big"
    )

    assert_problem(response, 413, "payload_too_large")
    assert nothing_written() == before


def test_every_endpoint_that_takes_a_body_refuses_one_over_the_limit(superuser_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2_000
    body = json.dumps({"amount": "1.00", "padding": "x" * 3_000})
    before = nothing_written()
    offenders, tried = [], 0

    for route, cls in api_routes():
        for method in ("post", "put", "patch"):
            if not hasattr(cls, method):
                continue
            tried += 1
            response = superuser_client.generic(
                method.upper(), route, body, content_type="application/json"
            )
            if (
                response.status_code != 413
                or response["Content-Type"] != "application/problem+json"
                or response.json()["code"] != "payload_too_large"
            ):
                offenders.append(f"{method} {route}: {response.status_code}")

    assert tried > 10
    assert offenders == []
    assert nothing_written() == before


def test_a_body_at_the_limit_is_read(customer_client, customer, settings):
    body = json.dumps({"asset": "USD", "name": "Main"})
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(body)

    response = customer_client.post("/api/v1/accounts", body, content_type="application/json")

    assert response.status_code == 201
    assert Account.objects.filter(owner=customer).count() == 1


def test_the_parser_stops_reading_past_the_limit_whatever_content_length_said(settings):
    # Content-Length may be absent or understated (chunked bodies behind ASGI).
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    stream = io.BytesIO(json.dumps({"padding": "x" * 1_000}).encode())

    with pytest.raises(PayloadTooLarge):
        DecimalJSONParser().parse(stream, parser_context={})
    assert stream.tell() <= 101  # one byte past the limit, not the whole body


@with_test_urls
def test_request_body_over_the_limit_in_a_drf_view_is_413(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    api_client.raise_request_exception = False

    response = api_client.generic("PUT", "/api/test/raw-body", "x" * 200)

    assert_problem(response, 413, "payload_too_large")


@with_test_urls
def test_request_body_over_the_limit_outside_drf_is_413_problem_json(api_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100

    response = api_client.generic("PUT", "/api/test/plain-body", "x" * 200)

    assert_problem(response, 413, "payload_too_large")


# --- nesting -----------------------------------------------------------------------------------


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [10_000, 100_000])
def test_json_nested_very_deep_is_400_parse_error(customer_client, depth):
    before = nothing_written()

    response = customer_client.post(
        "/api/v1/accounts", nested(depth), content_type="application/json"
    )

    assert_problem(response, 400, "parse_error")
    assert nothing_written() == before


def test_json_nested_past_the_limit_but_parseable_is_400_too(customer_client, customer, funded):
    # Deep enough for json to parse, deep enough to break a recursive step after it.
    source, target = funded(customer), funded(customer, "0.00")
    before = nothing_written()
    metadata = nested(800)
    body = (
        f'{{"from_account": "{source.public_id}", "to_account": "{target.public_id}", '
        f'"amount": "1.00", "metadata": {{"deep": {metadata}}}}}'
    )

    response = customer_client.post(
        "/api/v1/transfers", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY="deep"
    )

    assert_problem(response, 400, "parse_error")
    assert nothing_written() == before


def test_the_parser_accepts_nesting_up_to_its_limit():
    parsed = DecimalJSONParser().parse(io.BytesIO(nested(MAX_JSON_DEPTH).encode()))

    depth = 0
    while isinstance(parsed, list):
        parsed, depth = (parsed[0] if parsed else None), depth + 1
    assert depth == MAX_JSON_DEPTH


def test_the_parser_refuses_one_level_more():
    with pytest.raises(ParseError):
        DecimalJSONParser().parse(io.BytesIO(nested(MAX_JSON_DEPTH + 1).encode()))
