"""`load_history` (bench data): a bulk-loaded history is a valid ledger, or nothing at all."""

import json
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Max, Min, Sum

from accounts.models import Account, User
from ledger.management.commands import load_history
from ledger.models import Entry, Transaction
from ledger.services import post_transfer
from ledger.verification import verify_ledger

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_history_is_a_valid_ledger_that_the_services_continue(customer, funded):
    """World already has entries (a deposit): the load continues its versions; afterwards
    an ordinary transfer on a loaded account continues that account's versions too."""
    funded(customer, "5.00")
    out = StringIO()
    call_command(
        "load_history", entries=2000, accounts=5, owner="h@example.com", json=True, stdout=out
    )

    owner = User.objects.get(email="h@example.com")
    accounts = list(Account.objects.filter(owner=owner).order_by("pk"))
    assert len(accounts) == 5
    entries = Entry.objects.filter(account__owner=owner)
    assert entries.count() == 2000 - 5  # the world account took the 5 opening legs
    assert Transaction.objects.filter(reference="history").count() == (2000 - 10) // 2
    assert Transaction.objects.filter(reference="opening deposit", kind="deposit").count() == 5
    for account in accounts:
        mine = Entry.objects.filter(account=account)
        stats = mine.aggregate(n=Count("id"), lo=Min("account_version"), hi=Max("account_version"))
        assert (stats["lo"], stats["hi"]) == (1, stats["n"]) == (1, account.version)
        assert mine.aggregate(total=Sum("amount"))["total"] == account.balance > 0
        assert mine.get(account_version=account.version).balance_after == account.balance
    unbalanced = (
        Entry.objects.values("transaction_id").annotate(t=Sum("amount")).exclude(t=0).count()
    )
    assert unbalanced == 0
    assert verify_ledger().ok

    a, b = accounts[0], accounts[1]
    post_transfer(actor=owner, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1.00"))
    a.refresh_from_db()
    assert Entry.objects.get(account=a, account_version=a.version).balance_after == a.balance
    assert verify_ledger().ok


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"entries": 2001, "accounts": 5}, "even"),
        ({"entries": 8, "accounts": 5}, "at least 2"),
        ({"entries": 100, "accounts": 1}, "at least 2"),
        ({"entries": 100, "accounts": 5, "asset": "XXX"}, "Unknown asset"),
        ({"entries": 100, "accounts": 5, "seed": 3.0}, "seed"),
    ],
)
def test_bad_arguments_write_nothing(options, message):
    before = (User.objects.count(), Account.objects.count(), Entry.objects.count())
    with pytest.raises(CommandError, match=message):
        call_command("load_history", **options, stdout=StringIO())
    assert (User.objects.count(), Account.objects.count(), Entry.objects.count()) == before


def test_a_load_that_does_not_balance_is_rolled_back(monkeypatch):
    """The set-based check that replaces the skipped per-row triggers refuses the commit."""
    original = load_history.Command._check_new_rows

    def corrupt_then_check(self, cursor):
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, asset_id, amount, "
            "balance_after, account_version, created_at) "
            "SELECT t.id, e.account_id, e.asset_id, 1, 0, 999999, now() "
            "FROM lh_txn t JOIN ledger_entry e ON e.transaction_id = t.id LIMIT 1"
        )
        original(self, cursor)

    monkeypatch.setattr(load_history.Command, "_check_new_rows", corrupt_then_check)
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        if not cursor.fetchone()[0]:
            pytest.skip("the trigger-skipping fast path needs a superuser")
    before = (User.objects.count(), Account.objects.count(), Entry.objects.count())
    with pytest.raises(CommandError, match="1 unbalanced transaction"):
        call_command("load_history", entries=100, accounts=3, stdout=StringIO())
    # The owner created in the same atomic block is gone too.
    assert (User.objects.count(), Account.objects.count(), Entry.objects.count()) == before
    assert verify_ledger().ok


def test_progress_names_each_phase_and_json_answers_on_stdout():
    from ledger.management.commands.load_history import STEPS

    out, err = StringIO(), StringIO()
    call_command(
        "load_history", entries=40, accounts=4, progress_interval=0, stdout=out, stderr=err
    )
    assert out.getvalue().startswith("load_history: 40 entries in 20 transactions")
    lines = err.getvalue().splitlines()
    for number, step in enumerate(STEPS):
        assert any(
            f"loading {number}/{len(STEPS)} steps" in line and step in line for line in lines
        )
    assert lines[-1].endswith("done")
    assert f"{len(STEPS)}/{len(STEPS)} steps (100%)" in lines[-1]

    out, err = StringIO(), StringIO()
    call_command("load_history", entries=40, accounts=4, json=True, stdout=out, stderr=err)
    summary = json.loads(out.getvalue())
    assert (summary["entries"], summary["accounts"]) == (40, 4)
    assert json.loads(err.getvalue().splitlines()[-1])["event"] == "done"
