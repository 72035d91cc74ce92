"""Races on PostgreSQL: threads, each with its own connection, hammer the same accounts."""

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from accounts.models import Account
from conftest import client_for
from ledger import services
from ledger.errors import InsufficientFunds, LimitExceeded
from ledger.models import Entry, IdempotencyKey, RiskRule, Transaction
from ledger.verification import verify_ledger
from ledgerflow.errors import Contention

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_in_threads(n_threads: int, jobs: list, worker) -> list:
    """Run `worker(job)` for every job on `n_threads` threads started behind a barrier."""
    barrier = threading.Barrier(n_threads)
    chunks = [jobs[i::n_threads] for i in range(n_threads)]

    def run_chunk(chunk):
        barrier.wait()
        try:
            return [worker(job) for job in chunk]
        finally:
            connection.close()

    with ThreadPoolExecutor(n_threads) as pool:
        return [r for chunk_results in pool.map(run_chunk, chunks) for r in chunk_results]


def assert_books_consistent():
    for account in Account.objects.all():
        entries = Entry.objects.filter(account=account)
        total = entries.aggregate(total=Sum("amount"))["total"] or 0
        assert account.balance == total
        last = entries.order_by("-account_version").first()
        assert account.balance == (last.balance_after if last else 0)
        assert account.version == entries.count()
        if not account.allow_negative:
            assert account.balance - account.pending_debits >= -account.overdraft_limit
    assert verify_ledger().ok


def test_random_transfers_from_16_threads_conserve_money(user_factory, funded):
    owners = [user_factory() for _ in range(20)]
    accounts = [funded(owner, "50.00") for owner in owners]
    total_before = sum(a.balance for a in Account.objects.filter(owner__isnull=False))
    rng = random.Random(7)
    jobs = []
    for _ in range(1000):
        source, target = rng.sample(accounts, 2)
        jobs.append((source, target, Decimal(rng.randint(1, 2000)) / 100))

    def transfer(job):
        source, target, amount = job
        try:
            services.post_transfer(
                actor=source.owner,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=amount,
            )
            return "posted"
        except InsufficientFunds:
            return "insufficient_funds"
        except Contention:
            return "contention"

    outcomes = Counter(run_in_threads(16, jobs, transfer))
    assert outcomes["posted"] + outcomes["insufficient_funds"] == 1000, outcomes
    assert outcomes["posted"] > 100
    total_after = sum(a.balance for a in Account.objects.filter(owner__isnull=False))
    assert total_after == total_before
    assert Transaction.objects.filter(kind="transfer").count() == outcomes["posted"]
    assert_books_consistent()


def test_200_concurrent_debits_of_one_unit_from_100_yield_exactly_100(
    customer, other_customer, funded
):
    source = funded(customer, "100.00")
    target = funded(other_customer, "0")

    def debit(_):
        try:
            services.post_transfer(
                actor=customer,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=Decimal("1.00"),
            )
            return True
        except InsufficientFunds:
            return False

    results = run_in_threads(16, list(range(200)), debit)
    assert results.count(True) == 100
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.balance == 0
    assert target.balance == 10000
    assert_books_consistent()


def test_20_concurrent_requests_with_one_idempotency_key_move_money_once(
    customer, other_customer, funded
):
    source = funded(customer, "100.00")
    target = funded(other_customer, "0")
    body = {"from_account": source.public_id, "to_account": target.public_id, "amount": "7.00"}

    def post(_):
        client = client_for(customer)
        response = client.post(
            "/api/v1/transfers", body, format="json", HTTP_IDEMPOTENCY_KEY="one-key-twenty-requests"
        )
        return response.status_code, response.json(), response.get("Idempotent-Replayed")

    results = run_in_threads(20, list(range(20)), post)
    statuses = Counter(status for status, _, _ in results)
    # Duplicates wait on the key's unique index and replay the stored response.
    assert set(statuses) <= {201, 409}, statuses
    created = [body for status, body, _ in results if status == 201]
    assert len({b["id"] for b in created}) == 1
    assert sum(1 for _, _, replayed in results if replayed == "true") == len(created) - 1
    target.refresh_from_db()
    assert target.balance == 700
    assert Transaction.objects.filter(kind="transfer").count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert_books_consistent()


def test_concurrent_holds_cannot_overdraw(customer, other_customer, funded):
    source = funded(customer, "100.00")
    target = funded(other_customer, "0")

    def hold(_):
        try:
            services.post_transfer(
                actor=customer,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=Decimal("3.00"),
                pending=True,
            )
            return True
        except InsufficientFunds:
            return False

    results = run_in_threads(16, list(range(60)), hold)
    assert results.count(True) == 33  # 33 x 3.00 = 99.00 held; the 34th would overdraw
    source.refresh_from_db()
    assert (source.balance, source.pending_debits) == (10000, 9900)
    assert_books_consistent()


def test_overdraft_and_max_balance_hold_at_their_boundary_under_concurrency(
    customer, other_customer, funded
):
    source = funded(customer, "10.00", overdraft_limit=1000)  # may spend 20.00
    target = funded(other_customer, "0", max_balance=1500)  # may receive 15.00

    def move(_):
        try:
            services.post_transfer(
                actor=customer,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=Decimal("1.00"),
            )
            return "posted"
        except InsufficientFunds:
            return "insufficient_funds"
        except LimitExceeded:
            return "limit_exceeded"

    outcomes = Counter(run_in_threads(16, list(range(40)), move))
    assert outcomes["posted"] == 15, outcomes
    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, target.balance) == (-500, 1500)
    assert_books_consistent()


@pytest.mark.parametrize(
    ("kind", "limit", "amount", "expected"),
    [
        (RiskRule.Kind.MAX_DAILY_OUTFLOW, 2500, "1.00", 25),
        (RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE, 7, "1.00", 7),
    ],
)
def test_window_rules_hold_exactly_under_concurrency(
    customer, other_customer, funded, kind, limit, amount, expected
):
    from accounts.models import Asset

    source = funded(customer, "100.00")
    target = funded(other_customer, "0")
    RiskRule.objects.create(
        name="limit", kind=kind, limit=limit, asset=Asset.objects.get(code="USD"), user=customer
    )

    def move(_):
        try:
            services.post_transfer(
                actor=customer,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=Decimal(amount),
            )
            return "posted"
        except LimitExceeded:
            return "limit_exceeded"

    outcomes = Counter(run_in_threads(16, list(range(40)), move))
    assert outcomes["posted"] == expected, outcomes
    assert_books_consistent()
