"""Opening, listing and reading ledger accounts over the API (DESIGN §4)."""

import pytest

from accounts.models import Account
from webhooks.models import Event

pytestmark = pytest.mark.django_db

ACCOUNTS = "/api/v1/accounts"
ACCOUNT_FIELDS = {
    "id",
    "owner",
    "name",
    "asset",
    "balance",
    "available",
    "pending_debits",
    "pending_credits",
    "status",
    "allow_negative",
    "metadata",
    "created_at",
}


def test_open_account_answers_201_with_the_design_fields(customer_client, customer):
    response = customer_client.post(
        ACCOUNTS,
        {"asset": "USD", "name": "Wallet", "metadata": {"tier": "gold"}},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == ACCOUNT_FIELDS
    assert body["id"].startswith("acc_")
    assert body["owner"] == customer.pk
    assert body["name"] == "Wallet"
    assert body["asset"] == "USD"
    assert body["balance"] == body["available"] == "0.00"
    assert body["pending_debits"] == body["pending_credits"] == "0.00"
    assert body["status"] == "active"
    assert body["allow_negative"] is False
    assert body["metadata"] == {"tier": "gold"}
    account = Account.objects.get(public_id=body["id"])
    assert account.owner == customer
    assert Event.objects.filter(type="account.created", account=account).count() == 1


def test_money_fields_use_the_asset_decimals(customer_client):
    jpy = customer_client.post(ACCOUNTS, {"asset": "JPY"}, format="json").json()
    usdc = customer_client.post(ACCOUNTS, {"asset": "usdc"}, format="json").json()

    assert jpy["balance"] == "0"
    assert usdc["asset"] == "USDC"
    assert usdc["balance"] == "0.000000"


def test_name_and_metadata_are_optional(customer_client):
    body = customer_client.post(ACCOUNTS, {"asset": "EUR"}, format="json").json()

    assert body["name"] == ""
    assert body["metadata"] == {}


def test_unknown_asset_is_422_and_opens_nothing(customer_client):
    response = customer_client.post(ACCOUNTS, {"asset": "DOGE"}, format="json")

    assert response.status_code == 422
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "validation_error"
    assert "asset" in body["errors"]
    assert not Account.objects.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"asset": "USD", "metadata": ["not", "an", "object"]},
        {"asset": "USD", "name": "x" * 201},
    ],
)
def test_invalid_open_requests_are_400(customer_client, payload):
    response = customer_client.post(ACCOUNTS, payload, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert not Account.objects.exists()


def test_anonymous_cannot_open_or_list(api_client):
    assert api_client.post(ACCOUNTS, {"asset": "USD"}, format="json").status_code == 401
    assert api_client.get(ACCOUNTS).status_code == 401
    assert not Account.objects.exists()


def test_list_shows_only_own_accounts_newest_first(
    customer_client, customer, other_customer, account_factory
):
    first = account_factory(owner=customer)
    second = account_factory(owner=customer)
    account_factory(owner=other_customer)
    account_factory(owner=None, system_code="world", allow_negative=True)

    response = customer_client.get(ACCOUNTS)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}
    assert [a["id"] for a in body["results"]] == [second.public_id, first.public_id]
    assert set(body["results"][0]) == ACCOUNT_FIELDS


def test_list_pages_with_cursors(customer_client, customer, account_factory):
    ids = [account_factory(owner=customer).public_id for _ in range(3)]

    page1 = customer_client.get(ACCOUNTS, {"page_size": 2}).json()
    page2 = customer_client.get(page1["next"]).json()

    assert page1["previous"] is None
    assert page2["next"] is None
    assert page2["previous"] is not None
    seen = [a["id"] for a in page1["results"] + page2["results"]]
    assert seen == list(reversed(ids))


def test_get_own_account(customer_client, funded, customer):
    account = funded(customer, "12.50")

    response = customer_client.get(f"{ACCOUNTS}/{account.public_id}")

    assert response.status_code == 200
    assert response.json()["id"] == account.public_id
    assert response.json()["balance"] == "12.50"


def test_another_users_account_is_404(customer_client, other_customer, account_factory):
    theirs = account_factory(owner=other_customer)

    response = customer_client.get(f"{ACCOUNTS}/{theirs.public_id}")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_unknown_account_is_404(customer_client):
    response = customer_client.get(f"{ACCOUNTS}/acc_doesnotexist")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_staff_may_read_any_account(staff_client, customer, account_factory):
    account = account_factory(owner=customer)

    assert staff_client.get(f"{ACCOUNTS}/{account.public_id}").status_code == 200
