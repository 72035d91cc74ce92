"""A payee never learns the payer's balance (issue 11, item 1): entries of accounts the viewer
does not own carry account and amount only, in responses, lists and details alike."""

from decimal import Decimal

import pytest

from accounts.permissions import VIEW_ACCOUNTS
from accounts.tests.factories import UserFactory
from conftest import client_for
from ledger.services import post_transfer

pytestmark = pytest.mark.django_db


def _lines(body: dict) -> dict[str, dict]:
    return {e["account"]: e for e in body["entries"]}


def test_payer_sees_its_balance_but_not_the_payees(
    customer_client, customer, other_customer, funded
):
    source, target = funded(customer, "100.00"), funded(other_customer, "40.00")
    response = customer_client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": target.public_id, "amount": "0.01"},
        format="json",
    )
    assert response.status_code == 201
    lines = _lines(response.json())
    assert lines[source.public_id]["balance_after"] == "99.99"
    assert lines[source.public_id]["version"] == 2
    assert lines[target.public_id] == {"account": target.public_id, "amount": "0.01"}


def test_payee_reading_the_transaction_learns_nothing_of_the_payer(
    customer, other_customer, other_client, funded
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    txn = post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("7")
    )
    detail = other_client.get(f"/api/v1/transactions/{txn.public_id}").json()
    listed = other_client.get("/api/v1/transactions").json()["results"]
    for body in (detail, next(t for t in listed if t["id"] == txn.public_id)):
        lines = _lines(body)
        assert lines[source.public_id] == {"account": source.public_id, "amount": "-7.00"}
        assert lines[target.public_id]["balance_after"] == "7.00"


def test_deposit_response_hides_the_world_accounts_balance_from_its_customer(
    customer, customer_client, funded
):
    account = funded(customer, "5.00")
    response = customer_client.get("/api/v1/transactions").json()["results"][0]
    lines = _lines(response)
    assert lines[account.public_id]["balance_after"] == "5.00"
    (world,) = [line for key, line in lines.items() if key != account.public_id]
    assert "balance_after" not in world
    assert "version" not in world


def test_staff_who_may_view_accounts_see_every_balance(customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    txn = post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("7")
    )
    auditor = UserFactory(is_staff=True, rights=["ledger.view_transaction", VIEW_ACCOUNTS])
    lines = _lines(client_for(auditor).get(f"/api/v1/transactions/{txn.public_id}").json())
    assert lines[source.public_id]["balance_after"] == "93.00"
    assert lines[target.public_id]["balance_after"] == "7.00"
    # Seeing transactions is not seeing balances: without VIEW_ACCOUNTS only amounts.
    reader = UserFactory(is_staff=True, rights=["ledger.view_transaction"])
    lines = _lines(client_for(reader).get(f"/api/v1/transactions/{txn.public_id}").json())
    assert all("balance_after" not in line for line in lines.values())


def test_batch_response_is_per_viewer_too(customer_client, customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "3.00")
    transfer = {"from_account": source.public_id, "to_account": target.public_id, "amount": "1"}
    response = customer_client.post(
        "/api/v1/transfers/batch", {"transfers": [transfer, transfer]}, format="json"
    )
    assert response.status_code == 201
    first, second = (_lines(t) for t in response.json()["transactions"])
    assert (
        first[source.public_id]["balance_after"],
        second[source.public_id]["balance_after"],
    ) == (
        "99.00",
        "98.00",
    )
    assert "balance_after" not in first[target.public_id]
    assert "balance_after" not in second[target.public_id]
