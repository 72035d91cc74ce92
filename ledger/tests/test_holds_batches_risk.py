"""Two-phase transfers, atomic batches, risk rules, account policies and balance monitors."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from ledger import services
from ledger.errors import InsufficientFunds, LimitExceeded
from ledger.models import BalanceMonitor, Entry, RiskRule, Transaction
from ledger.verification import verify_ledger
from ledgerflow.errors import InvalidState
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def state():
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Event.objects.count(),
        sorted(Account.objects.values_list("pk", "balance", "pending_debits", "pending_credits")),
    )


def fresh(*accounts):
    for account in accounts:
        account.refresh_from_db()
    return accounts


# --- holds --------------------------------------------------------------------------------


def test_hold_lowers_available_not_balance(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
    )
    fresh(a, b)
    assert txn.status == Transaction.Status.PENDING
    assert (a.balance, a.pending_debits, a.available) == (10000, 3000, 7000)
    assert (b.balance, b.pending_credits) == (0, 3000)
    assert not Entry.objects.filter(transaction=txn).exists()
    assert Event.objects.filter(type="transaction.pending", payload__id=txn.public_id).exists()
    assert verify_ledger().ok


def test_partial_post_settles_exactly_and_releases_the_rest(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
    )
    posted = services.post_pending(actor=customer, transaction_id=txn.pk, amount=Decimal("12.50"))
    fresh(a, b)
    assert posted.status == Transaction.Status.POSTED
    assert posted.amount == 1250
    assert (a.balance, a.pending_debits) == (8750, 0)
    assert (b.balance, b.pending_credits) == (1250, 0)
    assert sorted(Entry.objects.filter(transaction=txn).values_list("amount", flat=True)) == [
        -1250,
        1250,
    ]
    before = state()
    with pytest.raises(InvalidState):
        services.post_pending(actor=customer, transaction_id=txn.pk)
    with pytest.raises(InvalidState):
        services.void_pending(actor=customer, transaction_id=txn.pk)
    assert state() == before
    assert verify_ledger().ok


def test_void_releases_everything_once(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
    )
    services.void_pending(actor=customer, transaction_id=txn.pk)
    fresh(a, b)
    assert (a.balance, a.pending_debits, b.pending_credits) == (10000, 0, 0)
    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.VOIDED
    with pytest.raises(InvalidState):
        services.post_pending(actor=customer, transaction_id=txn.pk)


def test_posting_more_than_held_is_refused(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
    )
    before = state()
    with pytest.raises(Exception, match=r"Cannot post 30\.01 USD: the hold is 30\.00 USD"):
        services.post_pending(actor=customer, transaction_id=txn.pk, amount=Decimal("30.01"))
    assert state() == before


def test_two_holds_cannot_together_exceed_the_balance(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("60.00"),
        pending=True,
    )
    with pytest.raises(InsufficientFunds):
        services.post_transfer(
            actor=customer,
            from_account_id=a.pk,
            to_account_id=b.pk,
            amount=Decimal("40.01"),
            pending=True,
        )
    with pytest.raises(InsufficientFunds):  # a plain transfer respects the hold too
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("40.01")
        )


def test_expired_holds_are_voided_by_the_task_and_twice_is_harmless(
    customer, other_customer, funded
):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    soon = timezone.now() + timedelta(seconds=1)
    txn = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
        expires_at=soon,
    )
    keep = services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("5.00"),
        pending=True,
    )
    later = timezone.now() + timedelta(seconds=5)
    assert services.expire_holds(now=later) == 1
    assert services.expire_holds(now=later) == 0
    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.VOIDED
    assert Transaction.objects.get(pk=keep.pk).status == Transaction.Status.PENDING
    fresh(a)
    assert a.pending_debits == 500
    assert Event.objects.filter(type="transaction.voided").count() == 1


# --- batches -------------------------------------------------------------------------------


def item(source, target, amount, **extra):
    return services.TransferItem(
        from_account_id=source.pk, to_account_id=target.pk, amount=Decimal(amount), **extra
    )


def test_batch_touching_one_account_many_times_gets_the_arithmetic_right(
    customer, other_customer, user_factory, funded
):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    c = funded(user_factory(), "0")
    items = [
        item(a, b, "1.00"),
        item(b, c, "0.50"),
        item(a, c, "2.00"),
        item(c, a, "0.25"),
        item(a, b, "3.00", pending=True),
    ]
    txns = services.post_batch(actor=customer, items=items)
    assert len(txns) == 5
    fresh(a, b, c)
    assert (a.balance, a.pending_debits) == (725, 300)
    assert (b.balance, b.pending_credits) == (50, 300)
    assert c.balance == 225
    assert [e.account_version for e in Entry.objects.filter(account=a).order_by("pk")] == [
        1,
        2,
        3,
        4,
    ]
    assert verify_ledger().ok


def test_batch_with_one_bad_item_changes_nothing_and_names_it(customer, other_customer, funded):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    before = state()
    items = [item(a, b, "4.00"), item(a, b, "4.00"), item(a, b, "4.00")]
    with pytest.raises(InsufficientFunds) as info:
        services.post_batch(actor=customer, items=items)
    assert info.value.extra["index"] == 2
    assert state() == before


def test_batch_of_1000_commits_at_once_with_few_statements(customer, other_customer, funded):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    a, b = funded(customer, "1000.00"), funded(other_customer, "0")
    items = [item(a, b, "0.01") for _ in range(1000)]
    with CaptureQueriesContext(connection) as ctx:
        txns = services.post_batch(actor=customer, items=items)
    assert len(txns) == 1000
    fresh(a, b)
    assert (a.balance, b.balance, b.version) == (100000 - 1000, 1000, 1000)
    # Every table is written with bulk statements (money rows, events, their audience):
    # one each on PostgreSQL; SQLite's bound-parameter limit splits bulk inserts into chunks
    # of a few hundred rows. Never a statement per transfer.
    statements = len(ctx.captured_queries)
    print(f"batch of 1000: {statements} statements on {connection.vendor}")
    assert statements <= (15 if connection.vendor == "postgresql" else 60)
    assert verify_ledger().ok


# --- risk rules and policies ---------------------------------------------------------------


def rule(kind, limit, action="reject", **scope):
    from accounts.models import Asset

    return RiskRule.objects.create(
        name=f"{kind} {limit}",
        kind=kind,
        limit=limit,
        action=action,
        asset=Asset.objects.get(code="USD"),
        **scope,
    )


def test_max_amount_acts_beyond_its_limit_only(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    rule(RiskRule.Kind.MAX_AMOUNT, 5000)
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("50.00")
    )
    before = state()
    with pytest.raises(LimitExceeded) as info:
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("50.01")
        )
    assert "max_amount" in info.value.extra["rule"]
    assert state() == before


def test_daily_outflow_counts_posted_and_held_debits(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    rule(RiskRule.Kind.MAX_DAILY_OUTFLOW, 3000, account=a)
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("10.00")
    )
    services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("10.00"),
        pending=True,
    )
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("10.00")
    )  # exactly at the limit: allowed
    with pytest.raises(LimitExceeded):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("0.01")
        )
    with pytest.raises(LimitExceeded):
        services.post_withdrawal(actor=customer, account_id=a.pk, amount=Decimal("0.01"))


def test_transfers_per_minute_per_user_across_accounts(customer, other_customer, funded):
    a1, a2 = funded(customer, "10.00"), funded(customer, "10.00")
    b = funded(other_customer, "0")
    rule(RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE, 2, user=customer)
    services.post_transfer(
        actor=customer, from_account_id=a1.pk, to_account_id=b.pk, amount=Decimal("1")
    )
    services.post_transfer(
        actor=customer, from_account_id=a2.pk, to_account_id=b.pk, amount=Decimal("1")
    )
    with pytest.raises(LimitExceeded):
        services.post_transfer(
            actor=customer, from_account_id=a1.pk, to_account_id=b.pk, amount=Decimal("1")
        )


def test_batch_counts_its_own_earlier_items_against_rules(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    rule(RiskRule.Kind.MAX_DAILY_OUTFLOW, 1500)
    before = state()
    with pytest.raises(LimitExceeded) as info:
        services.post_batch(actor=customer, items=[item(a, b, "10.00"), item(a, b, "5.01")])
    assert info.value.extra["index"] == 1
    assert state() == before


def test_review_threshold_holds_funds_until_an_operator_decides(
    customer, other_customer, staff, funded
):
    a, b = funded(customer, "10000.00"), funded(other_customer, "0")
    rule(RiskRule.Kind.REVIEW_THRESHOLD, 500000, action="review")
    small = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("4999.99")
    )
    assert small.status == Transaction.Status.POSTED
    big = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("5000.00")
    )
    assert (big.status, big.hold_reason) == (Transaction.Status.PENDING, "review")
    assert big.expires_at is None
    fresh(a)
    assert a.pending_debits == 500000
    services.post_pending(actor=staff, transaction_id=big.pk)
    fresh(a, b)
    assert (a.balance, a.pending_debits, b.balance) == (1, 0, 999999)
    declined = services.post_withdrawal(actor=customer, account_id=b.pk, amount=Decimal("6000.00"))
    assert declined.hold_reason == "review"
    services.void_pending(actor=staff, transaction_id=declined.pk)
    fresh(b)
    assert (b.balance, b.pending_debits) == (999999, 0)


def test_overdraft_limit_is_honoured_at_its_boundary(customer, other_customer, funded):
    a, b = funded(customer, "10.00", overdraft_limit=500), funded(other_customer, "0")
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("15.00")
    )
    fresh(a)
    assert a.balance == -500
    with pytest.raises(InsufficientFunds):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("0.01")
        )
    assert verify_ledger().ok


def test_max_balance_is_honoured_at_its_boundary(customer, other_customer, staff, funded):
    a = funded(customer, "100.00")
    b = funded(other_customer, "0", max_balance=5000)
    services.post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30.00"),
        pending=True,
    )
    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("20.00")
    )
    with pytest.raises(LimitExceeded):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("0.01")
        )
    with pytest.raises(LimitExceeded):
        services.post_deposit(actor=staff, account_id=b.pk, amount=Decimal("0.01"))


def test_monitor_fires_once_per_crossing(customer, other_customer, staff, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    BalanceMonitor.objects.create(account=a, threshold=5000, direction="below")

    def move(amount):
        services.post_transfer(
            actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal(amount)
        )

    def crossings():
        return Event.objects.filter(type="balance.threshold_crossed").count()

    move("40.00")  # 60.00: above
    assert crossings() == 0
    move("20.00")  # 40.00: crossed
    assert crossings() == 1
    move("10.00")  # 30.00: still below, no new event
    assert crossings() == 1
    services.post_deposit(actor=staff, account_id=a.pk, amount=Decimal("50.00"))  # back above
    move("31.00")  # 49.00: crossed again
    assert crossings() == 2
