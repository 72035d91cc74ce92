"""Server API keys: staff-only management, shown once, stored hashed, `Api-Key` auth (DESIGN §4)."""

import pytest
from rest_framework.test import APIClient

from accounts.models import ApiKey, User
from accounts.services import create_api_key
from ledger.models import IdempotencyKey, Transaction
from ledgerflow.errors import PermissionDenied

pytestmark = pytest.mark.django_db

KEYS = "/api/v1/api-keys"


def key_client(raw_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def create_key(staff_client, name: str = "indexer") -> dict:
    response = staff_client.post(KEYS, {"name": name}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def test_created_key_is_shown_once_and_stored_hashed(staff_client, staff):
    body = create_key(staff_client)

    assert set(body) == {"id", "name", "prefix", "created_at", "last_used_at", "revoked_at", "key"}
    raw_key = body["key"]
    assert body["prefix"] in raw_key
    row = ApiKey.objects.get(pk=body["id"])
    assert row.user == staff
    stored = [str(value) for value in ApiKey.objects.filter(pk=row.pk).values().get().values()]
    assert all(raw_key not in value for value in stored)
    assert row.hashed_key != raw_key


def test_an_idempotency_key_does_not_store_the_secret_for_replay(staff_client):
    response = staff_client.post(KEYS, {"name": "ci"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert response.status_code == 201
    assert not IdempotencyKey.objects.exists()
    assert "Idempotent-Replayed" not in response


def test_listing_keys_shows_the_prefix_but_never_the_key(staff_client):
    created = create_key(staff_client)

    response = staff_client.get(KEYS)

    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert listed["id"] == created["id"]
    assert listed["prefix"] == created["prefix"]
    assert "key" not in listed
    assert created["key"] not in response.content.decode()


def test_api_key_authenticates_as_its_user(staff_client, staff):
    raw_key = create_key(staff_client)["key"]

    response = key_client(raw_key).get("/api/v1/auth/me")

    assert response.status_code == 200
    assert response.json()["email"] == staff.email
    assert ApiKey.objects.get(prefix=raw_key.split("_")[1]).last_used_at is not None


def test_api_key_may_deposit(staff_client, customer, account_factory):
    raw_key = create_key(staff_client)["key"]
    account = account_factory(owner=customer)

    response = key_client(raw_key).post(
        "/api/v1/deposits", {"account": account.public_id, "amount": "25.00"}, format="json"
    )

    assert response.status_code == 201, response.json()
    account.refresh_from_db()
    assert account.balance == 2500


def test_revoked_key_is_401_authentication_failed(staff_client, customer, account_factory):
    created = create_key(staff_client)
    account = account_factory(owner=customer)

    assert staff_client.delete(f"{KEYS}/{created['id']}").status_code == 204

    client = key_client(created["key"])
    response = client.post(
        "/api/v1/deposits", {"account": account.public_id, "amount": "25.00"}, format="json"
    )
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert response["Content-Type"] == "application/problem+json"
    assert client.get("/api/v1/auth/me").status_code == 401
    assert ApiKey.objects.get(pk=created["id"]).revoked_at is not None
    assert not Transaction.objects.exists()
    account.refresh_from_db()
    assert account.balance == 0


def test_revoking_twice_is_harmless_and_an_unknown_key_is_404(staff_client):
    created = create_key(staff_client)

    assert staff_client.delete(f"{KEYS}/{created['id']}").status_code == 204
    assert staff_client.delete(f"{KEYS}/{created['id']}").status_code == 204
    response = staff_client.delete(f"{KEYS}/{created['id'] + 1000}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("change", [{"is_staff": False}, {"is_active": False}])
def test_a_key_stops_working_when_its_user_leaves_staff(staff_client, staff, change):
    raw_key = create_key(staff_client)["key"]
    User.objects.filter(pk=staff.pk).update(**change)

    response = key_client(raw_key).get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_keys_are_only_issued_to_staff(customer):
    with pytest.raises(PermissionDenied):
        create_api_key(actor=customer, name="mine")

    assert not ApiKey.objects.exists()


def test_unknown_key_is_401_authentication_failed():
    response = key_client("lf_deadbeef_not-a-real-key").get("/api/v1/auth/me")

    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"


def test_customers_cannot_manage_keys(customer_client, staff_client):
    created = create_key(staff_client)

    for response in (
        customer_client.get(KEYS),
        customer_client.post(KEYS, {"name": "mine"}, format="json"),
        customer_client.delete(f"{KEYS}/{created['id']}"),
    ):
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert ApiKey.objects.count() == 1
    assert ApiKey.objects.get().revoked_at is None


def test_anonymous_callers_get_401_on_keys(api_client):
    response = api_client.get(KEYS)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_a_staff_member_lists_only_their_own_keys(staff_client, user_factory):
    from conftest import client_for

    create_key(staff_client, "mine")
    other_staff_client = client_for(user_factory(is_staff=True))
    create_key(other_staff_client, "theirs")

    names = [k["name"] for k in staff_client.get(KEYS).json()["results"]]

    assert names == ["mine"]


def test_a_staff_member_cannot_revoke_another_staff_members_key(staff_client, user_factory):
    from conftest import client_for

    theirs = create_key(client_for(user_factory(is_staff=True)), "theirs")

    response = staff_client.delete(f"{KEYS}/{theirs['id']}")

    assert response.status_code == 404
    assert ApiKey.objects.get(pk=theirs["id"]).revoked_at is None


def test_key_name_is_required(staff_client):
    response = staff_client.post(KEYS, {}, format="json")

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    assert not ApiKey.objects.exists()
