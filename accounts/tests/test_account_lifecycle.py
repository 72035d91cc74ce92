"""Renaming and closing accounts (issue 16, part 3): a closed account refuses every movement,
stays readable, and closing is race-safe against transfers."""

import threading
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import Account
from accounts.services import close_account
from accounts.tests.factories import AccountFactory, UserFactory
from audit.models import AuditLog
from conftest import client_for
from ledger.models import Entry, Transaction
from ledger.services import TransferItem, post_batch, void_pending
from orders.services import cancel_order, create_order
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def close(client, account):
    return client.post(f"/api/v1/accounts/{account.public_id}/close")


def books():
    return Transaction.objects.count(), Entry.objects.count()


# --- PATCH -----------------------------------------------------------------------------------


def test_owner_renames_and_replaces_metadata(customer, customer_client):
    account = AccountFactory(owner=customer, metadata={"a": 1})
    response = customer_client.patch(
        f"/api/v1/accounts/{account.public_id}",
        {"name": "Savings", "metadata": {"purpose": "rainy day"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["name"] == "Savings"
    assert response.json()["metadata"] == {"purpose": "rainy day"}
    event = Event.objects.get(type="account.updated")
    assert event.payload["changed"] == ["metadata", "name"]
    # A field left out stays as it is.
    response = customer_client.patch(
        f"/api/v1/accounts/{account.public_id}", {"name": "Pot"}, format="json"
    )
    assert response.json()["metadata"] == {"purpose": "rainy day"}


def test_someone_elses_account_is_404(customer, other_client):
    account = AccountFactory(owner=customer, name="Mine")
    path = f"/api/v1/accounts/{account.public_id}"
    problem(other_client.patch(path, {"name": "Yours"}, format="json"), 404, "not_found")
    problem(close(other_client, account), 404, "not_found")
    account.refresh_from_db()
    assert (account.name, account.status) == ("Mine", "active")


def test_bad_metadata_is_a_field_error(customer, customer_client):
    account = AccountFactory(owner=customer)
    response = customer_client.patch(
        f"/api/v1/accounts/{account.public_id}", {"metadata": "not an object"}, format="json"
    )
    assert "metadata" in problem(response, 400, "validation_error")["errors"]


def test_staff_with_the_right_edit_any_account_and_are_audited(customer):
    account = AccountFactory(owner=customer)
    viewer = UserFactory(is_staff=True, rights=["accounts.view_account"])
    editor = UserFactory(is_staff=True, rights=["accounts.change_account"])
    path = f"/api/v1/accounts/{account.public_id}"
    # Sees the account, lacks the right: 403 (a stranger gets 404).
    problem(client_for(viewer).patch(path, {"name": "x"}, format="json"), 403, "permission_denied")
    assert client_for(editor).patch(path, {"name": "Checked"}, format="json").status_code == 200
    assert AuditLog.objects.get(action="account.update").actor_id == editor.pk


# --- close -----------------------------------------------------------------------------------


def test_an_empty_account_closes_refuses_movements_and_stays_readable(
    customer, customer_client, funded, staff
):
    account, source = funded(customer, "0"), funded(customer, "50.00")
    response = close(customer_client, account)

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "closed"
    assert Event.objects.filter(type="account.closed").count() == 1
    assert AuditLog.objects.filter(action="account.close", target_id=str(account.pk)).exists()
    before = books()
    transfer = customer_client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": account.public_id, "amount": "1"},
        format="json",
    )
    problem(transfer, 409, "account_inactive")
    deposit = client_for(staff).post(
        "/api/v1/deposits", {"account": account.public_id, "amount": "1"}, format="json"
    )
    problem(deposit, 409, "account_inactive")
    order = customer_client.post(
        "/api/v1/orders", {"account": account.public_id, "amount": "1"}, format="json"
    )
    problem(order, 409, "account_inactive")
    assert books() == before
    # Readable forever; never reopened, never changed.
    assert customer_client.get(f"/api/v1/accounts/{account.public_id}").json()["status"] == "closed"
    balance = customer_client.get(f"/api/v1/accounts/{account.public_id}/balance")
    assert balance.status_code == 200
    problem(close(customer_client, account), 409, "invalid_state")
    rename = customer_client.patch(
        f"/api/v1/accounts/{account.public_id}", {"name": "x"}, format="json"
    )
    problem(rename, 409, "account_inactive")


def test_a_non_empty_account_does_not_close(customer, customer_client, funded):
    account = funded(customer, "12.50")
    body = problem(close(customer_client, account), 409, "account_not_empty")
    assert "12.50 USD" in body["detail"]
    account.refresh_from_db()
    assert account.status == "active"
    assert not Event.objects.filter(type="account.closed").exists()


def test_pending_holds_block_closing_either_side(customer, other_customer, funded):
    source, target = funded(customer, "10.00"), funded(other_customer, "0")
    (hold,) = post_batch(
        actor=customer, items=[TransferItem(source.pk, target.pk, Decimal("10.00"), pending=True)]
    )
    # The payer's balance is still 10.00, but the held inflow alone blocks the payee.
    problem(close(client_for(other_customer), target), 409, "account_has_pending_holds")
    void_pending(actor=customer, transaction_id=hold.pk)
    assert close(client_for(other_customer), target).status_code == 200


def test_pending_orders_block_closing(customer, customer_client):
    account = AccountFactory(owner=customer)
    order = create_order(actor=customer, account_id=account.pk, amount=Decimal("3.00"))
    problem(close(customer_client, account), 409, "account_has_pending_orders")
    cancel_order(actor=customer, order_pk=order.pk)
    assert close(customer_client, account).status_code == 200


def test_system_accounts_do_not_close(staff, funded, customer):
    # `staff` holds every operator right, accounts.change_account among them.
    funded(customer, "1.00")  # creates the world account
    world = Account.objects.get(system_code="world", asset__code="USD")
    problem(close(client_for(staff), world), 409, "invalid_state")


def test_a_frozen_account_is_closed_by_an_operator_not_its_owner(customer, customer_client, staff):
    account = AccountFactory(owner=customer, status=Account.Status.FROZEN)
    problem(close(customer_client, account), 409, "account_inactive")
    assert close(client_for(staff), account).json()["status"] == "closed"


def test_close_replays_with_an_idempotency_key(customer, customer_client):
    account = AccountFactory(owner=customer)
    key = str(uuid.uuid4())
    first = customer_client.post(
        f"/api/v1/accounts/{account.public_id}/close", HTTP_IDEMPOTENCY_KEY=key
    )
    again = customer_client.post(
        f"/api/v1/accounts/{account.public_id}/close", HTTP_IDEMPOTENCY_KEY=key
    )
    assert (first.status_code, again.status_code) == (200, 200)
    assert again["Idempotent-Replayed"] == "true"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_close_and_a_transfer_into_the_account_never_both_win():
    """Both lock the target's row: either the transfer lands and close refuses (not empty),
    or close wins and the transfer is refused (account_inactive). Never a closed account
    holding money."""
    outcomes = set()
    for _ in range(8):
        payer, payee = UserFactory(), UserFactory()
        source, target = AccountFactory(owner=payer), AccountFactory(owner=payee)
        from ledger.services import post_deposit

        post_deposit(actor=UserFactory(is_staff=True), account_id=source.pk, amount=Decimal("5"))
        barrier, results = threading.Barrier(2), {}

        def transfer(barrier=barrier, results=results, payer=payer, source=source, target=target):
            try:
                barrier.wait()
                response = client_for(payer).post(
                    "/api/v1/transfers",
                    {"from_account": source.public_id, "to_account": target.public_id,
                     "amount": "1"},
                    format="json",
                )  # fmt: skip
                results["transfer"] = (response.status_code, response.json().get("code"))
            finally:
                connection.close()

        def closing(barrier=barrier, results=results, payee=payee, target=target):
            try:
                barrier.wait()
                response = close(client_for(payee), target)
                results["close"] = (response.status_code, response.json().get("code"))
            finally:
                connection.close()

        threads = [threading.Thread(target=transfer), threading.Thread(target=closing)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        target.refresh_from_db()
        if results["close"][0] == 200:
            assert results["transfer"] == (409, "account_inactive")
            assert (target.status, target.balance) == ("closed", 0)
            outcomes.add("close won")
        else:
            assert results["close"] == (409, "account_not_empty")
            assert results["transfer"][0] == 201
            assert (target.status, target.balance) == ("active", 100)
            outcomes.add("transfer won")
    assert outcomes  # at least one ordering observed; each iteration was checked exactly


def test_the_close_service_checks_under_the_lock(customer):
    account = AccountFactory(owner=customer)
    closed = close_account(actor=customer, account_id=account.pk)
    assert closed.status == Account.Status.CLOSED
