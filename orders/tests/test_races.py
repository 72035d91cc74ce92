"""Row-lock races on PostgreSQL: threads released together by a barrier."""

import functools
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from ledger.models import Transaction
from ledgerflow.errors import DomainError, InvalidState, ValidationFailed
from orders import services
from orders.errors import TooManyPendingOrders
from orders.models import Order
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
