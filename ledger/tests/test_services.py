"""Ledger services: exact arithmetic, refusals that change nothing, reversal, statement cost."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account
from accounts.tests.factories import AccountFactory
from ledger import services
from ledger.errors import AccountInactive, AssetMismatch, InsufficientFunds, UnbalancedTransaction
from ledger.models import Entry, Transaction
from ledger.selectors import balance_at
from ledger.verification import verify_ledger
from ledgerflow.errors import InvalidState, ValidationFailed
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def snapshot_state():
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Event.objects.count(),
        sorted(Account.objects.values_list("pk", "balance", "version")),
    )


def test_mixed_movements_leave_exact_balances(customer, other_customer, staff, funded):
    a = funded(customer, "100.00")
    b = funded(other_customer, "0")
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("12.34")
    )
    services.post_transfer(
        actor=other_customer, from_account_id=b.pk, to_account_id=a.pk, amount=Decimal("2.34")
    )
    services.post_withdrawal(actor=staff, account_id=a.pk, amount=Decimal("40.01"))
    services.post_deposit(actor=staff, account_id=b.pk, amount=Decimal("0.01"))
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (4999, 1001)
    assert (a.version, b.version) == (4, 3)
    last = Entry.objects.filter(account=a).order_by("-account_version").first()
    assert last.balance_after == a.balance
    assert list(
        Entry.objects.filter(account=a)
        .order_by("account_version")
        .values_list("account_version", flat=True)
    ) == [1, 2, 3, 4]
    assert verify_ledger().ok


def test_insufficient_funds_changes_nothing(customer, other_customer, funded):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    before = snapshot_state()
    with pytest.raises(InsufficientFunds):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("10.01")
        )
    assert snapshot_state() == before


def test_asset_mismatch_is_refused(customer, funded):
    usd = funded(customer, "10.00")
    eur = funded(customer, "0", asset="EUR")
    before = snapshot_state()
    with pytest.raises(AssetMismatch):
        services.post_transfer(
            actor=customer, from_account_id=usd.pk, to_account_id=eur.pk, amount=Decimal("1")
        )
    assert snapshot_state() == before


def test_self_transfer_is_refused(customer, funded):
    a = funded(customer, "10.00")
    with pytest.raises(ValidationFailed):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=a.pk, amount=Decimal("1")
        )


@pytest.mark.parametrize("status", [Account.Status.FROZEN, Account.Status.CLOSED])
@pytest.mark.parametrize("side", ["source", "target"])
def test_inactive_accounts_are_refused(customer, other_customer, funded, status, side):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    Account.objects.filter(pk=(a if side == "source" else b).pk).update(status=status)
    before = snapshot_state()
    with pytest.raises(AccountInactive):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1")
        )
    assert snapshot_state() == before


def test_excess_decimals_are_a_field_error(customer, other_customer, funded):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    with pytest.raises(ValidationFailed) as info:
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1.001")
        )
    assert "amount" in info.value.errors


def test_balance_overflowing_int64_is_refused(staff, customer):
    account = AccountFactory(owner=customer, asset__code="USD")
    services.post_deposit(actor=staff, account_id=account.pk, amount=Decimal("90000000000000000"))
    before = snapshot_state()
    with pytest.raises(ValidationFailed):
        services.post_deposit(
            actor=staff, account_id=account.pk, amount=Decimal("90000000000000000")
        )
    assert snapshot_state() == before


def test_reversal_mirrors_the_original_once(customer, other_customer, staff, funded):
    a = funded(customer, "50.00")
    b = funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("20.00"),
        category="sale",
    )
    reversal = services.reverse_transaction(actor=staff, transaction_id=txn.pk, reason="refund")
    assert reversal.kind == Transaction.Kind.REVERSAL
    assert reversal.reverses_id == txn.pk
    mirrored = sorted(Entry.objects.filter(transaction=reversal).values_list("account", "amount"))
    assert mirrored == sorted((e.account_id, -e.amount) for e in txn.entries.all())
    a.refresh_from_db()
    b.refresh_from_db()
    assert (a.balance, b.balance) == (5000, 0)
    before = snapshot_state()
    with pytest.raises(InvalidState):
        services.reverse_transaction(actor=staff, transaction_id=txn.pk)
    with pytest.raises(InvalidState):
        services.reverse_transaction(actor=staff, transaction_id=reversal.pk)
    assert snapshot_state() == before
    assert Event.objects.filter(type="transaction.reversed").count() == 1


def test_reversal_needs_the_funds_back(customer, other_customer, staff, funded):
    a = funded(customer, "50.00")
    b = funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("20.00")
    )
    services.post_withdrawal(actor=staff, account_id=b.pk, amount=Decimal("15.00"))
    with pytest.raises(InsufficientFunds):
        services.reverse_transaction(actor=staff, transaction_id=txn.pk)


def test_journal_must_balance(staff, customer, other_customer, funded):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    before = snapshot_state()
    with pytest.raises(UnbalancedTransaction):
        services.post_journal(actor=staff, entries=[(a.pk, Decimal("-5")), (b.pk, Decimal("4"))])
    assert snapshot_state() == before
    txn = services.post_journal(
        actor=staff, entries=[(a.pk, Decimal("-5")), (b.pk, Decimal("4.5")), (b.pk, Decimal("0.5"))]
    )
    b.refresh_from_db()
    assert b.balance == 500
    assert b.version == 2  # two entries on b, versions 1 and 2
    assert txn.amount == 500


def test_every_posting_records_its_event_in_the_same_transaction(customer, other_customer, funded):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1.00")
    )
    event = Event.objects.filter(type="transaction.posted").order_by("-created_at").first()
    assert event.payload["id"] == txn.public_id
    assert event.payload["amount"] == "1.00"


def test_transfer_costs_a_fixed_number_of_queries_whatever_the_history(
    customer, other_customer, funded
):
    a = funded(customer, "1000.00")
    b = funded(other_customer, "0")

    def count_one_transfer() -> int:
        with CaptureQueriesContext(connection) as ctx:
            services.post_transfer(
                actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1")
            )
        return len(ctx.captured_queries)

    first = count_one_transfer()
    for _ in range(30):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1")
        )
    later = count_one_transfer()
    assert first == later
    # savepoint; before the locks: the accounts' asset and owner, risk rules, balance
    # monitors; lock both accounts; insert transaction, insert entries (one bulk statement),
    # update both balances (one statement), event + its audience + endpoint lookup; release
    assert later <= 12


def test_balance_as_of_time_and_version(customer, other_customer, funded):
    a = funded(customer, "100.00")
    b = funded(other_customer, "0")
    after_deposit = Entry.objects.get(account=a).created_at
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("30.00")
    )
    a.refresh_from_db()
    assert balance_at(a, version=1).balance == 10000
    assert balance_at(a, version=2).balance == 7000
    assert balance_at(a, version=0).balance == 0
    assert balance_at(a, at=after_deposit).balance == 10000
    assert balance_at(a).balance == 7000
    with pytest.raises(ValidationFailed):
        balance_at(a, version=3)


def test_verify_ledger_detects_a_corrupted_balance(customer, funded):
    a = funded(customer, "10.00")
    assert verify_ledger().ok
    Account.objects.filter(pk=a.pk).update(balance=999)
    result = verify_ledger()
    assert not result.ok
    assert result.counts["balance_differs_from_entries"] == 1
    assert result.counts["balance_differs_from_last_balance_after"] == 1


def test_transfer_outcomes_are_counted_refusals_included(
    customer, other_customer, funded, django_capture_on_commit_callbacks
):
    from prometheus_client import REGISTRY

    def count(outcome):
        labels = {"kind": "transfer", "outcome": outcome}
        return REGISTRY.get_sample_value("ledgerflow_transfers_total", labels) or 0

    a = funded(customer, "1.00")
    b = funded(other_customer, "0")
    posted, refused = count("posted"), count("insufficient_funds")
    with django_capture_on_commit_callbacks(execute=True):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("0.40")
        )
    with pytest.raises(InsufficientFunds):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("0.61")
        )
    assert count("posted") == posted + 1
    assert count("insufficient_funds") == refused + 1
