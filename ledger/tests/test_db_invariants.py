"""The database itself refuses to edit history or commit an unbalanced transaction."""

import pytest
from django.db import IntegrityError, InternalError, connection, transaction
from django.db.utils import DatabaseError

from accounts.tests.factories import AccountFactory
from ledger.models import Entry, Transaction

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def posted_entry(customer, other_customer, funded):
    from decimal import Decimal

    from ledger.services import post_transfer

    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    txn = post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1.00")
    )
    return Entry.objects.filter(transaction=txn).first()


def test_entries_cannot_be_updated_even_with_raw_sql(posted_entry):
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE ledger_entry SET amount = amount * 2 WHERE id = %s", [posted_entry.pk]
        )
    posted_entry.refresh_from_db()
    assert posted_entry.amount in (100, -100)


def test_entries_cannot_be_deleted_even_with_raw_sql(posted_entry):
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE id = %s", [posted_entry.pk])
    assert Entry.objects.filter(pk=posted_entry.pk).exists()


def test_orm_delete_is_refused_too(posted_entry):
    with pytest.raises((DatabaseError, IntegrityError)):
        Entry.objects.filter(pk=posted_entry.pk).delete()
    assert Entry.objects.filter(pk=posted_entry.pk).exists()


def test_an_unbalanced_transaction_cannot_commit(customer):
    account = AccountFactory(owner=customer)
    system = AccountFactory(owner=None, allow_negative=True)
    with pytest.raises((IntegrityError, InternalError), match="does not balance"):
        with transaction.atomic():
            txn = Transaction.objects.create(kind="journal", asset=account.asset, amount=5)
            Entry.objects.create(
                transaction=txn,
                account=account,
                asset=account.asset,
                amount=5,
                balance_after=5,
                account_version=1,
            )
            Entry.objects.create(
                transaction=txn,
                account=system,
                asset=account.asset,
                amount=-4,
                balance_after=-4,
                account_version=1,
            )
    assert not Entry.objects.exists()
    assert not Transaction.objects.exists()


def test_a_balanced_hand_written_transaction_commits(customer):
    account = AccountFactory(owner=customer)
    system = AccountFactory(owner=None, allow_negative=True)
    with transaction.atomic():
        txn = Transaction.objects.create(kind="journal", asset=account.asset, amount=5)
        Entry.objects.create(
            transaction=txn,
            account=account,
            asset=account.asset,
            amount=5,
            balance_after=5,
            account_version=1,
        )
        Entry.objects.create(
            transaction=txn,
            account=system,
            asset=account.asset,
            amount=-5,
            balance_after=-5,
            account_version=1,
        )
    assert Entry.objects.count() == 2


def test_database_refuses_negative_available_balance(customer):
    account = AccountFactory(owner=customer)
    with pytest.raises(IntegrityError):
        type(account).objects.filter(pk=account.pk).update(balance=-1)
