"""Customers' JWTs cost no database read on the hot endpoints; what matters is re-checked
where money moves, and staff rights always come from the database (issue 15)."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import UserFactory
from conftest import client_for
from ledger.models import Transaction

pytestmark = pytest.mark.django_db


def _transfer(client, source, target):
    return client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": target.public_id, "amount": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def test_a_customer_transfer_reads_no_user_row(customer, other_customer, customer_client, funded):
    source, target = funded(customer), funded(other_customer, "0")
    with CaptureQueriesContext(connection) as captured:
        assert _transfer(customer_client, source, target).status_code == 201
    # No read of the user row of its own (the lock statement re-checks `is_active` inline).
    assert not [
        q for q in captured.captured_queries if q["sql"].startswith('SELECT "accounts_user"')
    ]
    (lock,) = [q["sql"] for q in captured.captured_queries if "config_version" in q["sql"]]
    assert 'FROM "accounts_user"' in lock


def test_a_deactivated_customer_cannot_move_money_with_a_live_token(
    customer, other_customer, customer_client, funded
):
    source, target = funded(customer), funded(other_customer, "0")
    customer.is_active = False
    customer.save()
    before = Transaction.objects.count()
    response = _transfer(customer_client, source, target)
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    assert Transaction.objects.count() == before
    source.refresh_from_db()
    assert source.balance == 10000


def test_staff_rights_come_from_the_database_not_the_token(customer, funded):
    account = funded(customer, "0")
    operator = UserFactory(is_staff=True, rights=["ledger.deposit"])
    client = client_for(operator)
    body = {"account": account.public_id, "amount": "1"}
    assert client.post("/api/v1/deposits", body, format="json").status_code == 201
    operator.user_permissions.clear()
    assert client.post("/api/v1/deposits", body, format="json").status_code == 403


def test_a_customer_made_staff_gains_no_right_until_a_new_token(customer, other_customer, funded):
    source, target = funded(other_customer), funded(customer, "0")
    client = client_for(customer)  # issued while a customer
    customer.is_staff = True
    customer.save()
    from django.contrib.auth.models import Permission

    customer.user_permissions.add(Permission.objects.get(codename="transfer_any"))
    assert _transfer(client, source, target).status_code == 404  # still a customer's token
    assert _transfer(client_for(customer), source, target).status_code == 201
