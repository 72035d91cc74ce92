"""Row-lock races on PostgreSQL: threads released together by a barrier."""

import functools
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import create_api_key
from accounts.tests.factories import UserFactory
from ledger.models import Transaction
from ledgerflow.errors import DomainError, InvalidState, ValidationFailed
from orders import services
from orders.errors import TooManyPendingOrders
from orders.models import Deposit, Order
from webhooks.models import Event

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

TX_A = "0x" + "a" * 64
TX_B = "0x" + "b" * 64


def run_concurrently(*calls):
    """Run each call in its own thread, all released at once; return results or exceptions."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def work(index, call):
        try:
            barrier.wait()
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_ten_concurrent_creations_yield_exactly_two_orders(customer_client, customer_account):
    def create():
        response = customer_client.post(
            "/api/v1/orders",
            {"account": customer_account.public_id, "amount": "10.00"},
            format="json",
        )
        return response.status_code, response.json().get("code")

    results = run_concurrently(*[create] * 10)
    assert Counter(results) == {(201, None): 2, (409, "too_many_pending_orders"): 8}
    orders = Order.objects.filter(account=customer_account)
    assert orders.count() == 2
    assert sorted(orders.values_list("sequence", flat=True)) == [1, 2]
    assert Event.objects.filter(type="order.created").count() == 2


def test_ten_concurrent_service_creations_yield_exactly_two_orders(customer, customer_account):
    def create():
        return services.create_order(
            actor=customer, account_id=customer_account.pk, amount=Decimal("1.00")
        )

    results = run_concurrently(*[create] * 10)
    assert sum(isinstance(r, Order) for r in results) == 2
    assert sum(isinstance(r, TooManyPendingOrders) for r in results) == 8
    assert Order.objects.filter(account=customer_account).count() == 2


@pytest.mark.parametrize("hashes", [(TX_A, TX_A), (TX_A, TX_B)], ids=["same-hash", "two-hashes"])
def test_racing_completions_credit_the_amount_once(customer_account, make_order, staff, hashes):
    order = make_order(customer_account, "25.00")
    results = run_concurrently(
        *[
            lambda h=h: services.complete_order(actor=staff, order_pk=order.pk, tx_hash=h)
            for h in hashes
        ]
    )
    assert sum(isinstance(r, Order) for r in results) == 1
    assert sum(isinstance(r, InvalidState) for r in results) == 1
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1
    assert Event.objects.filter(type="order.completed").count() == 1


def test_one_tx_hash_racing_on_two_orders_completes_one(customer_account, make_order, staff):
    first, second = make_order(customer_account, "25.00"), make_order(customer_account, "30.00")
    results = run_concurrently(
        *[
            lambda o=o: services.complete_order(actor=staff, order_pk=o.pk, tx_hash=TX_A)
            for o in (first, second)
        ]
    )
    assert sum(isinstance(r, Order) for r in results) == 1
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(refused) == 1
    assert isinstance(refused[0], ValidationFailed)
    assert "tx_hash" in refused[0].errors
    completed = Order.objects.get(status=Order.Status.COMPLETED)
    customer_account.refresh_from_db()
    assert customer_account.balance == completed.amount
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 1


def test_expiry_racing_completion_ends_one_way_or_the_other(customer_account, make_order, staff):
    outcomes = Counter()
    for round_ in range(12):
        customer_account.refresh_from_db()
        balance_before = customer_account.balance
        order = make_order(customer_account, "5.00")
        Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        tx_hash = f"0x{round_:064x}"
        complete = functools.partial(
            services.complete_order, actor=staff, order_pk=order.pk, tx_hash=tx_hash
        )
        calls = [complete, services.expire_orders]
        results = run_concurrently(*(calls if round_ % 2 else calls[::-1]))
        assert not any(
            isinstance(r, Exception) and not isinstance(r, InvalidState) for r in results
        ), results
        order.refresh_from_db()
        customer_account.refresh_from_db()
        outcomes[order.status] += 1
        if order.status == Order.Status.COMPLETED:
            assert order.settlement is not None
            assert customer_account.balance == balance_before + 500
            assert not Event.objects.filter(
                type="order.expired", payload__order_id=order.order_id
            ).exists()
        else:
            assert order.status == Order.Status.EXPIRED
            assert order.settlement is None
            assert customer_account.balance == balance_before
            assert not Event.objects.filter(
                type="order.completed", payload__order_id=order.order_id
            ).exists()
    assert sum(outcomes.values()) == 12
    settled = Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count()
    assert settled == outcomes[Order.Status.COMPLETED]


def test_concurrent_expiry_runs_expire_each_order_once(account_factory, customer, make_order):
    for _ in range(4):
        account = account_factory(owner=customer, asset__code="USD")
        make_order(account)
        make_order(account)
    Order.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    results = run_concurrently(*[services.expire_orders] * 4)
    assert sum(results) == 8
    assert Order.objects.filter(status=Order.Status.EXPIRED).count() == 8
    assert Event.objects.filter(type="order.expired").count() == 8


def _indexer_client():
    _, raw_key = create_api_key(
        actor=UserFactory(is_staff=True, rights=["orders.record_deposit"]), name="indexer"
    )
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


def _report(order, tx_hash, amount="25.00"):
    client = _indexer_client()
    body = {"order_id": order.order_id, "tx_hash": tx_hash, "amount": amount, "confirmations": 12}

    def post():
        response = client.post("/api/v1/orders/deposits", body, format="json")
        payload = response.json()
        return response.status_code, payload.get("code") or payload["status"]

    return post


def test_eight_indexers_reporting_one_payment_settle_it_once(customer_account, make_order):
    order = make_order(customer_account, "25.00")

    results = run_concurrently(*[_report(order, TX_A) for _ in range(8)])

    assert Counter(results) == {(200, "settled"): 8}
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1
    assert Event.objects.filter(type="order.completed").count() == 1
    assert Deposit.objects.get().status == "settled"


def test_two_payments_racing_for_one_order_settle_one(customer_account, make_order):
    order = make_order(customer_account, "25.00")

    results = run_concurrently(_report(order, TX_A), _report(order, TX_B))

    assert Counter(results) == {(200, "settled"): 1, (409, "invalid_state"): 1}
    order.refresh_from_db()
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1
    assert Deposit.objects.get().tx_hash == order.tx_hash


def test_a_matching_and_a_short_payment_racing_end_one_way(customer_account, make_order):
    order = make_order(customer_account, "25.00")

    results = run_concurrently(_report(order, TX_A), _report(order, TX_B, amount="10.00"))

    order.refresh_from_db()
    customer_account.refresh_from_db()
    if order.status == Order.Status.COMPLETED:
        assert Counter(results) == {(200, "settled"): 1, (409, "invalid_state"): 1}
        assert customer_account.balance == 2500
    else:
        assert Counter(results) == {(202, "needs_review"): 1, (409, "invalid_state"): 1}
        assert order.status == Order.Status.NEEDS_REVIEW
        assert customer_account.balance == 0
    assert Deposit.objects.count() == 1


def test_one_payment_racing_for_two_orders_pays_one(customer_account, make_order):
    first, second = make_order(customer_account, "25.00"), make_order(customer_account, "25.00")

    results = run_concurrently(_report(first, TX_A), _report(second, TX_A))

    assert Counter(results) == {(200, "settled"): 1, (422, "validation_error"): 1}
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Order.objects.filter(status=Order.Status.COMPLETED).count() == 1
    assert Order.objects.filter(status=Order.Status.PENDING).count() == 1
