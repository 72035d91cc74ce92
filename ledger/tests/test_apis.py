"""Ledger API through real HTTP: problem codes, ownership, nothing changes on refusal."""

import pytest

from accounts.models import Account
from ledger.models import Entry, Transaction
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def state():
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Event.objects.filter(type__startswith="transaction.").count(),
        sorted(Account.objects.values_list("pk", "balance")),
    )


def transfer(client, source, target, amount, **extra):
    body = {"from_account": source.public_id, "to_account": target.public_id, "amount": amount}
    return client.post("/api/v1/transfers", {**body, **extra}, format="json")


@pytest.mark.parametrize(
    "amount",
    [
        "abc",
        "NaN",
        "Infinity",
        "-Infinity",
        "0",
        "-1.00",
        "1.001",
        "1e3",
        "",
        "1234567890123456789",
        None,
        True,
        [1],
        {"v": 1},
    ],
)
def test_bad_amounts_are_field_errors_and_change_nothing(
    customer_client, customer, other_customer, funded, amount
):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    before = state()
    response = transfer(customer_client, a, b, amount)
    assert response.status_code in (400, 422)
    body = response.json()
    assert body["code"] == "validation_error"
    assert "amount" in body["errors"]
    assert response["Content-Type"] == "application/problem+json"
    assert state() == before


def test_json_number_amounts_are_exact(customer_client, customer, other_customer, funded):
    a = funded(customer, "1.00")
    b = funded(other_customer, "0")
    ids = f'"from_account": "{a.public_id}", "to_account": "{b.public_id}"'
    raw = "{" + ids + ', "amount": 0.10}'  # a JSON number, not a string
    response = customer_client.post("/api/v1/transfers", raw, content_type="application/json")
    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == "0.10"
    b.refresh_from_db()
    assert b.balance == 10


def test_insufficient_funds_is_409_and_changes_nothing(
    customer_client, customer, other_customer, funded
):
    a = funded(customer, "5.00")
    b = funded(other_customer, "0")
    before = state()
    response = transfer(customer_client, a, b, "5.01")
    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_funds"
    assert state() == before


def test_asset_mismatch_is_422(customer_client, customer, other_customer, funded):
    a = funded(customer, "5.00")
    b = funded(other_customer, "0", asset="EUR")
    response = transfer(customer_client, a, b, "1")
    assert response.status_code == 422
    assert response.json()["code"] == "asset_mismatch"


def test_self_transfer_is_422_validation_error(customer_client, customer, funded):
    a = funded(customer, "5.00")
    response = transfer(customer_client, a, a, "1")
    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"


def test_frozen_account_is_409_account_inactive(customer_client, customer, other_customer, funded):
    a = funded(customer, "5.00")
    b = funded(other_customer, "0", status=Account.Status.FROZEN)
    response = transfer(customer_client, a, b, "1")
    assert response.status_code == 409
    assert response.json()["code"] == "account_inactive"


def test_moving_from_someone_elses_account_is_404(other_client, customer, other_customer, funded):
    a = funded(customer, "5.00")
    b = funded(other_customer, "0")
    before = state()
    response = transfer(other_client, a, b, "1")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert state() == before
    assert other_client.get(f"/api/v1/accounts/{a.public_id}/balance").status_code == 404
    assert other_client.get(f"/api/v1/accounts/{a.public_id}/entries").status_code == 404
    assert other_client.get(f"/api/v1/transactions?account={a.public_id}").status_code == 404


def test_customers_cannot_deposit_or_journal(customer_client, customer, funded):
    a = funded(customer, "5.00")
    deposit = customer_client.post(
        "/api/v1/deposits", {"account": a.public_id, "amount": "1"}, format="json"
    )
    assert deposit.status_code == 403
    assert deposit.json()["code"] == "permission_denied"
    journal = customer_client.post(
        "/api/v1/transactions",
        {
            "entries": [
                {"account": a.public_id, "amount": "-1"},
                {"account": a.public_id, "amount": "1"},
            ]
        },
        format="json",
    )
    assert journal.status_code == 403


def test_owner_can_withdraw_own_account_only(customer_client, other_client, customer, funded):
    a = funded(customer, "5.00")
    ok = customer_client.post(
        "/api/v1/withdrawals", {"account": a.public_id, "amount": "2.00"}, format="json"
    )
    assert ok.status_code == 201
    assert ok.json()["kind"] == "withdrawal"
    denied = other_client.post(
        "/api/v1/withdrawals", {"account": a.public_id, "amount": "1.00"}, format="json"
    )
    assert denied.status_code == 404


def test_staff_journal_and_reversal(
    staff_client, customer_client, customer, other_customer, funded
):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    journal = staff_client.post(
        "/api/v1/transactions",
        {
            "entries": [
                {"account": a.public_id, "amount": "-3.00"},
                {"account": b.public_id, "amount": "3.00"},
            ],
            "reference": "manual",
        },
        format="json",
    )
    assert journal.status_code == 201, journal.json()
    txn = journal.json()
    assert txn["kind"] == "journal"
    unbalanced = staff_client.post(
        "/api/v1/transactions",
        {
            "entries": [
                {"account": a.public_id, "amount": "-3.00"},
                {"account": b.public_id, "amount": "2.00"},
            ]
        },
        format="json",
    )
    assert unbalanced.status_code == 422
    assert unbalanced.json()["code"] == "validation_error"
    reverse = staff_client.post(f"/api/v1/transactions/{txn['id']}/reverse", {}, format="json")
    assert reverse.status_code == 200
    assert reverse.json()["reverses"] == txn["id"]
    again = staff_client.post(f"/api/v1/transactions/{txn['id']}/reverse", {}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"
    forbidden = customer_client.post(f"/api/v1/transactions/{txn['id']}/reverse", {}, format="json")
    assert forbidden.status_code == 403


def test_transaction_list_filters_and_visibility(
    customer_client, other_client, customer, other_customer, funded
):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    c = funded(other_customer, "7.00")
    transfer(customer_client, a, b, "1.00", category="food")
    transfer(customer_client, a, b, "2.00", category="rent")
    listing = customer_client.get("/api/v1/transactions").json()
    kinds = [t["kind"] for t in listing["results"]]
    assert kinds == ["transfer", "transfer", "deposit"]  # newest first; c's deposit not visible
    assert "next" in listing
    assert "previous" in listing
    food = customer_client.get("/api/v1/transactions?category=food").json()["results"]
    assert [t["amount"] for t in food] == ["1.00"]
    deposits = other_client.get(f"/api/v1/transactions?account={c.public_id}&kind=deposit")
    assert [t["amount"] for t in deposits.json()["results"]] == ["7.00"]
    detail = customer_client.get(f"/api/v1/transactions/{food[0]['id']}")
    assert detail.status_code == 200
    hidden = other_client.get(f"/api/v1/transactions/{deposits.json()['results'][0]['id']}")
    assert hidden.status_code == 200
    assert (
        customer_client.get(
            f"/api/v1/transactions/{deposits.json()['results'][0]['id']}"
        ).status_code
        == 404
    )


def test_balance_at_version_and_time(customer_client, customer, other_customer, funded):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    first = transfer(customer_client, a, b, "4.00").json()
    url = f"/api/v1/accounts/{a.public_id}/balance"
    assert customer_client.get(f"{url}?version=1").json()["balance"] == "10.00"
    assert customer_client.get(f"{url}?version=2").json()["balance"] == "6.00"
    at = customer_client.get(url, {"at": first["created_at"]}).json()
    assert at["balance"] == "6.00"
    assert customer_client.get(url, {"at": "2000-01-01T00:00:00Z"}).json()["balance"] == "0.00"
    bad = customer_client.get(f"{url}?version=9")
    assert bad.status_code == 422
    assert customer_client.get(f"{url}?at=yesterday").status_code == 400


def test_statement_is_newest_first_with_time_filter(
    customer_client, customer, other_customer, funded
):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    for amount in ("1.00", "2.00", "3.00"):
        transfer(customer_client, a, b, amount)
    url = f"/api/v1/accounts/{a.public_id}/entries"
    page = customer_client.get(url, {"page_size": 2}).json()
    assert [e["amount"] for e in page["results"]] == ["-3.00", "-2.00"]
    assert [e["balance_after"] for e in page["results"]] == ["4.00", "7.00"]
    rest = customer_client.get(page["next"]).json()
    assert [e["amount"] for e in rest["results"]] == ["-1.00", "10.00"]
    future = customer_client.get(url, {"created_after": "2999-01-01T00:00:00Z"}).json()
    assert future["results"] == []


def test_idempotent_transfer_replays_and_moves_money_once(
    customer_client, customer, other_customer, funded
):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    headers = {"HTTP_IDEMPOTENCY_KEY": "transfer-1"}
    body = {"from_account": a.public_id, "to_account": b.public_id, "amount": "3.00"}
    first = customer_client.post("/api/v1/transfers", body, format="json", **headers)
    second = customer_client.post("/api/v1/transfers", body, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    b.refresh_from_db()
    assert b.balance == 300
    reused = customer_client.post(
        "/api/v1/transfers", {**body, "amount": "4.00"}, format="json", **headers
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_refused_request_stores_no_key_and_can_be_retried(
    customer_client, customer, other_customer, funded, staff
):
    from decimal import Decimal

    from ledger.models import IdempotencyKey
    from ledger.services import post_deposit

    a = funded(customer, "1.00")
    b = funded(other_customer, "0")
    headers = {"HTTP_IDEMPOTENCY_KEY": "retry-after-topup"}
    body = {"from_account": a.public_id, "to_account": b.public_id, "amount": "3.00"}
    refused = customer_client.post("/api/v1/transfers", body, format="json", **headers)
    assert refused.status_code == 409
    assert not IdempotencyKey.objects.exists()
    post_deposit(actor=staff, account_id=a.pk, amount=Decimal("5"))
    accepted = customer_client.post("/api/v1/transfers", body, format="json", **headers)
    assert accepted.status_code == 201
