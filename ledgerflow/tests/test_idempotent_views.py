"""Every API view derives from ApiView, so every state-changing POST honours Idempotency-Key."""

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from accounts.apis import ApiKeyListCreateApi, TokenApi, TokenRefreshApi
from accounts.models import Account
from ledger.models import IdempotencyKey
from ledgerflow.api import ApiView

# Their responses carry a credential: a stored replay would keep it in the database
# (tokens; the API key's only plaintext copy).
NOT_IDEMPOTENT = {TokenApi, TokenRefreshApi, ApiKeyListCreateApi}
ACCOUNTS = "/api/v1/accounts"


def api_views() -> list[tuple[str, type[APIView]]]:
    """(route, view class) of every DRF view under /api/v1/ in the URL conf."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "cls", None)
                if view_class and issubclass(view_class, APIView):
                    yield route, view_class

    return [
        (route, cls)
        for route, cls in walk(get_resolver().url_patterns, "")
        if route.startswith("api/v1/")
    ]


def test_the_url_conf_walk_finds_the_api():
    found = {cls for _, cls in api_views()}

    assert TokenApi in found
    assert len(found) > 5


def test_every_api_view_derives_from_apiview():
    offenders = [
        f"{route}: {cls.__qualname__}" for route, cls in api_views() if not issubclass(cls, ApiView)
    ]

    assert offenders == []


def test_every_post_view_is_idempotent_except_those_returning_credentials():
    posting = {cls for _, cls in api_views() if hasattr(cls, "post")}

    assert {
        cls for cls in posting if not (issubclass(cls, ApiView) and cls.idempotent)
    } == NOT_IDEMPOTENT


# --- the mechanism, through a real endpoint --------------------------------------------------


def open_account(client, key: str | None, body: dict | None = None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return client.post(ACCOUNTS, body or {"asset": "USD", "name": "Main"}, format="json", **headers)


@pytest.mark.django_db
def test_a_retry_with_the_same_key_and_body_replays_the_first_response(customer_client, customer):
    first = open_account(customer_client, "open-1")
    second = open_account(customer_client, "open-1")

    assert first.status_code == second.status_code == 201
    assert second.json() == first.json()
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert Account.objects.filter(owner=customer).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_422(customer_client, customer):
    open_account(customer_client, "open-2")

    response = open_account(customer_client, "open-2", {"asset": "EUR"})

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "idempotency_key_reused"
    assert Account.objects.filter(owner=customer).count() == 1


@pytest.mark.django_db
def test_without_a_key_every_post_acts(customer_client, customer):
    open_account(customer_client, None)
    open_account(customer_client, None)

    assert Account.objects.filter(owner=customer).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(("length", "status"), [(255, 201), (256, 422)])
def test_the_key_is_1_to_255_characters(customer_client, customer, length, status):
    response = open_account(customer_client, "k" * length)

    assert response.status_code == status
    if status == 422:
        assert response.json()["code"] == "validation_error"
        assert "Idempotency-Key" in response.json()["errors"]
        assert not Account.objects.filter(owner=customer).exists()
        assert not IdempotencyKey.objects.exists()


@pytest.mark.django_db
def test_an_empty_key_is_rejected(customer_client, customer):
    response = open_account(customer_client, "")

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    assert not Account.objects.filter(owner=customer).exists()


@pytest.mark.django_db
def test_keys_are_scoped_to_the_caller(customer_client, other_client, customer, other_customer):
    mine = open_account(customer_client, "shared-key")
    theirs = open_account(other_client, "shared-key")

    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs
    assert theirs.json()["id"] != mine.json()["id"]
    assert theirs.json()["owner"] == other_customer.pk


@pytest.mark.django_db
def test_a_refused_request_stores_nothing_and_the_key_can_be_reused(customer_client, customer):
    refused = open_account(customer_client, "open-3", {"asset": "DOGE"})
    accepted = open_account(customer_client, "open-3", {"asset": "USD"})

    assert refused.status_code == 422
    assert accepted.status_code == 201
    assert "Idempotent-Replayed" not in accepted
    assert Account.objects.filter(owner=customer).count() == 1


@pytest.mark.django_db
def test_registration_is_idempotent_too(api_client):
    body = {"email": "idem@example.com", "password": "correct horse battery"}

    first = api_client.post("/api/v1/auth/register", body, format="json", HTTP_IDEMPOTENCY_KEY="r1")
    second = api_client.post(
        "/api/v1/auth/register", body, format="json", HTTP_IDEMPOTENCY_KEY="r1"
    )

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
