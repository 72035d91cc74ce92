"""The database guards a transaction's life (pending -> posted | voided, settled money frozen),
refuses deleting entries on both vendors, and verify_ledger reconciles holds.

Corruption is attempted with raw SQL, as a careless script or a bad migration would do it.
"""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from ledger import services
from ledger.models import Entry, Transaction
from ledger.verification import verify_ledger

pytestmark = pytest.mark.django_db


def execute(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def refused(sql, params):
    """Run `sql` expecting the database to refuse it; the test's transaction stays usable."""
    with pytest.raises(DatabaseError), transaction.atomic():
        execute(sql, params)


@pytest.fixture
def accounts(customer, other_customer, funded):
    return funded(customer, "100.00"), funded(other_customer, "0")


@pytest.fixture
def posted(customer, accounts):
    a, b = accounts
    return services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("10.00")
    )


@pytest.fixture
def pending(customer, accounts):
    a, b = accounts
    return services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def status_of(txn):
    return Transaction.objects.values_list("status", flat=True).get(pk=txn.pk)


# --- status moves only forward ---------------------------------------------------------------


@pytest.mark.parametrize("to", ["pending", "voided"])
def test_a_posted_transaction_cannot_change_status(posted, to):
    refused("UPDATE ledger_transaction SET status = %s WHERE id = %s", [to, posted.pk])
    assert status_of(posted) == "posted"


@pytest.mark.parametrize("to", ["pending", "posted"])
def test_a_voided_transaction_cannot_change_status(customer, pending, to):
    services.void_pending(actor=customer, transaction_id=pending.pk)
    refused("UPDATE ledger_transaction SET status = %s WHERE id = %s", [to, pending.pk])
    assert status_of(pending) == "voided"


def test_a_pending_transaction_cannot_take_an_unknown_status(pending):
    refused("UPDATE ledger_transaction SET status = 'settled' WHERE id = %s", [pending.pk])
    assert status_of(pending) == "pending"


def test_pending_moves_to_posted_or_voided(customer, accounts, pending):
    a, b = accounts
    other = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("1.00"),
        pending=True,
    )
    services.post_pending(actor=customer, transaction_id=pending.pk, amount=Decimal("20.00"))
    services.void_pending(actor=customer, transaction_id=other.pk)
    assert (status_of(pending), status_of(other)) == ("posted", "voided")
    assert Transaction.objects.get(pk=pending.pk).amount == 2000
    assert verify_ledger().ok


# --- a settled transaction's money is frozen ---------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [("amount", 1), ("kind", "deposit"), ("held_amount", 1), ("hold_to_id", None)],
)
def test_a_posted_transactions_money_fields_cannot_change(customer, pending, column, value):
    services.post_pending(actor=customer, transaction_id=pending.pk)
    before = Transaction.objects.values().get(pk=pending.pk)

    sql = f"UPDATE ledger_transaction SET {column} = %s WHERE id = %s"  # noqa: S608 - constants
    refused(sql, [value, pending.pk])

    assert Transaction.objects.values().get(pk=pending.pk) == before


def test_a_posted_transactions_description_may_still_change(posted):
    execute("UPDATE ledger_transaction SET reference = 'typo fixed' WHERE id = %s", [posted.pk])
    assert Transaction.objects.get(pk=posted.pk).reference == "typo fixed"


# --- entries are never deleted, on SQLite too ---------------------------------------------------


def test_an_entry_cannot_be_deleted_with_raw_sql(posted):
    entry = Entry.objects.filter(transaction=posted).first()
    refused("DELETE FROM ledger_entry WHERE id = %s", [entry.pk])
    assert Entry.objects.filter(pk=entry.pk).exists()
    assert verify_ledger().ok


@pytest.mark.django_db(transaction=True)  # as a transactional test's teardown does it
def test_flush_still_empties_the_database_and_keeps_the_guard(posted):
    call_command("flush", interactive=False, verbosity=0, inhibit_post_migrate=True)

    assert not Entry.objects.exists()
    assert not Transaction.objects.exists()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND name = %s",
                ["ledger_entry_no_delete"],
            )
            assert cursor.fetchone() is not None


# --- verify_ledger reconciles pending columns with open holds ----------------------------------


def test_verify_ledger_finds_pending_debits_without_a_hold(accounts, pending):
    a, _ = accounts
    assert verify_ledger().ok
    execute("UPDATE accounts_account SET pending_debits = pending_debits + 1 WHERE id = %s", [a.pk])

    result = verify_ledger()

    assert result.counts["pending_differs_from_holds"] == 1
    assert result.samples["pending_differs_from_holds"][0][0] == a.pk


def test_verify_ledger_finds_pending_credits_without_a_hold(accounts, pending):
    _, b = accounts
    execute("UPDATE accounts_account SET pending_credits = 0 WHERE id = %s", [b.pk])

    result = verify_ledger()

    assert result.counts["pending_differs_from_holds"] == 1
    assert not result.ok


def test_verify_ledger_finds_a_hold_whose_amount_was_changed(accounts, pending):
    execute("UPDATE ledger_transaction SET held_amount = 1 WHERE id = %s", [pending.pk])

    assert verify_ledger().counts["pending_differs_from_holds"] == 2  # payer and payee


def test_verify_ledger_finds_a_hold_settled_without_releasing_its_funds(accounts, pending):
    execute("UPDATE ledger_transaction SET status = 'voided' WHERE id = %s", [pending.pk])

    assert verify_ledger().counts["pending_differs_from_holds"] == 2


def test_verify_ledger_counts_only_open_holds(customer, accounts, pending, posted):
    services.post_pending(actor=customer, transaction_id=pending.pk, amount=Decimal("5.00"))
    result = verify_ledger()
    assert result.ok, result.samples
