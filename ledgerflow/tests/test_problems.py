"""Every API error is RFC 9457 application/problem+json with a stable `code` (DESIGN §4).

This module doubles as a test-only URL conf (`urlpatterns` below) for errors no real
endpoint should raise on purpose: an unexpected exception, Django validation errors.
"""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.models import User
from ledger.models import IdempotencyKey
from ledgerflow.api import ApiView
from ledgerflow.errors import InvalidState

pytestmark = pytest.mark.django_db

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "request_id"}


class BoomApi(ApiView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise RuntimeError("a bug")

    def post(self, request: Request) -> Response:
        User.objects.create_user("half-done@example.com", "irrelevant-pass")
        raise RuntimeError("a bug after a write")


class DjangoValidationApi(ApiView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise DjangoValidationError({"name": ["Too short."]})


class DomainErrorApi(ApiView):
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        raise InvalidState("Already settled.", transaction="txn_1")


urlpatterns = [
    path("api/test/boom", BoomApi.as_view()),
    path("api/test/django-validation", DjangoValidationApi.as_view()),
    path("api/test/domain-error", DomainErrorApi.as_view()),
    path("", include("ledgerflow.urls")),
]
with_test_urls = pytest.mark.urls(__name__)


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert PROBLEM_FIELDS <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].endswith(f"/{code}")
    assert body["request_id"] == response["X-Request-ID"]
    return body


def test_malformed_json_is_400_parse_error(customer_client):
    response = customer_client.post(
        "/api/v1/accounts", data='{"asset": "USD",', content_type="application/json"
    )

    assert_problem(response, 400, "parse_error")


def test_nan_in_json_is_400_parse_error(customer_client):
    response = customer_client.post(
        "/api/v1/accounts", data='{"asset": NaN}', content_type="application/json"
    )

    assert_problem(response, 400, "parse_error")


def test_invalid_fields_are_400_validation_error_with_errors(customer_client):
    response = customer_client.post("/api/v1/accounts", {}, format="json")

    body = assert_problem(response, 400, "validation_error")
    assert body["errors"] == {"asset": ["This field is required."]}


def test_unsupported_media_type_is_415(customer_client):
    response = customer_client.post("/api/v1/accounts", data="asset=USD", content_type="text/plain")

    assert_problem(response, 415, "unsupported_media_type")


def test_missing_credentials_are_401_not_authenticated(api_client):
    response = api_client.get("/api/v1/accounts")

    assert_problem(response, 401, "not_authenticated")
    assert "WWW-Authenticate" in response


def test_wrong_credentials_are_401_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Api-Key nope")

    assert_problem(api_client.get("/api/v1/accounts"), 401, "authentication_failed")


def test_forbidden_is_403_permission_denied(customer_client):
    response = customer_client.post(
        "/api/v1/deposits", {"account": "acc_x", "amount": "1.00"}, format="json"
    )

    assert_problem(response, 403, "permission_denied")


def test_unknown_account_is_404_not_found(customer_client):
    assert_problem(customer_client.get("/api/v1/accounts/acc_missing"), 404, "not_found")


@pytest.mark.parametrize("path", ["/api/v1/no-such-thing", "/api/v2/accounts", "/api/"])
def test_unknown_api_url_is_404_problem_json(customer_client, path):
    assert_problem(customer_client.get(path), 404, "not_found")


def test_unknown_url_outside_the_api_stays_html(client):
    response = client.get("/no-such-page")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_wrong_method_is_405_method_not_allowed(customer_client):
    response = customer_client.delete("/api/v1/accounts")

    assert_problem(response, 405, "method_not_allowed")
    assert "GET" in response["Allow"]


@with_test_urls
def test_unexpected_exception_is_500_internal_error(api_client, caplog):
    api_client.raise_request_exception = False

    response = api_client.get("/api/test/boom", HTTP_X_REQUEST_ID="trace-500")

    body = assert_problem(response, 500, "internal_error")
    assert body["request_id"] == "trace-500"
    assert "a bug" not in body["detail"]  # internals stay in the log
    logged = [r for r in caplog.records if r.name == "ledgerflow.problems"]
    assert logged
    assert logged[0].exc_info[0] is RuntimeError


@with_test_urls
def test_unexpected_exception_in_an_idempotent_post_rolls_back_write_and_key(api_client):
    api_client.raise_request_exception = False

    response = api_client.post("/api/test/boom", {}, format="json", HTTP_IDEMPOTENCY_KEY="k1")

    assert_problem(response, 500, "internal_error")
    assert not User.objects.filter(email="half-done@example.com").exists()
    assert not IdempotencyKey.objects.exists()  # a retry runs afresh, not "in progress"


@with_test_urls
def test_django_validation_error_is_a_field_error(api_client):
    body = assert_problem(api_client.get("/api/test/django-validation"), 400, "validation_error")

    assert body["errors"] == {"name": ["Too short."]}


@with_test_urls
def test_domain_error_carries_its_extra_fields(api_client):
    body = assert_problem(api_client.get("/api/test/domain-error"), 409, "invalid_state")

    assert body["detail"] == "Already settled."
    assert body["transaction"] == "txn_1"
