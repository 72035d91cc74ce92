"""Beat stopped for an hour, then back: every periodic job catches up, each effect once.

While beat was away, time moved on: holds and orders passed their `expires_at`, the last
balance snapshots are two hours old, an export and the deliveries of a dozen events lost their
messages (the broker took them and nobody consumed them). When beat returns its jobs run late
and, as happens when beat restarts or two schedulers overlap, more than once: here every
periodic task runs from two threads at the same moment, then once more. Tasks go through
Celery (`apply`, eager), so the work they enqueue (export builds, webhook deliveries) runs too,
against a real HTTP receiver.

Guarantees: one snapshot per account that changed, none for one that did not; one expiry (one
event, one release of the held funds) per hold and per order; each export built and announced
once; each lost delivery re-sent once and every event received exactly once.
"""

import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import Account
from accounts.tests.factories import UserFactory
from ledger import tasks as ledger_tasks
from ledger.models import Transaction
from ledger.services import TransferItem, post_batch
from orders import tasks as order_tasks
from orders.models import Order
from orders.services import create_order
from reporting import tasks as reporting_tasks
from reporting.models import BalanceSnapshot, Export
from reporting.services import take_snapshots
from tests.faults.conftest import _point_celery_at
from tests.faults.ledger_checks import assert_money_conserved, asset_totals
from webhooks import tasks as webhook_tasks
from webhooks.models import Delivery, Event
from webhooks.services import create_endpoint

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

HOUR = timedelta(hours=1)
# The order matters only for snapshots: expiring holds changes balances, so it runs first, and
# the snapshot of that state is taken in the same catch-up (as beat's next tick would).
BEAT_TASKS = [
    order_tasks.expire_orders,
    ledger_tasks.expire_holds,
    reporting_tasks.requeue_exports,
    webhook_tasks.requeue_deliveries,
    reporting_tasks.take_snapshots,
]


@pytest.fixture
def lost_messages():
    """A broker that takes messages and delivers them to nobody: what beat's absence and a
    lost queue leave behind. Undone at teardown."""
    undo = _point_celery_at("memory://", {})
    yield
    undo()


def _apply(task) -> int:
    outcome = task.apply()  # in this thread, as a worker runs it
    assert outcome.successful(), outcome.traceback
    return outcome.result


def _run_twice_at_once_then_again(results: dict) -> None:
    """Each beat task from two threads released together, then once more alone."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def beat_instance(name: str) -> None:
        try:
            for task in BEAT_TASKS:
                barrier.wait(timeout=60)
                results[(name, task.name)] = _apply(task)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            barrier.abort()
        finally:
            connection.close()  # this thread's own connection

    threads = [threading.Thread(target=beat_instance, args=(n,)) for n in ("beat-a", "beat-b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for task in BEAT_TASKS:
        results[("again", task.name)] = _apply(task)


def test_beat_back_after_an_hour_catches_up_and_each_effect_happens_once(
    funded, staff, settings, tmp_path, webhook_receiver, lost_messages, request
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(tmp_path)}},
    }
    alice, bob = UserFactory(), UserFactory()
    endpoint = create_endpoint(actor=alice, url=webhook_receiver.url)
    spender, saver, idle = funded(alice, "500.00"), funded(alice, "50.00"), funded(bob, "70.00")
    payee = funded(bob, "0.00")
    now = timezone.now()
    take_snapshots(taken_at=now - 2 * HOUR)  # the last snapshots beat took

    # What happened while beat was away.
    def hold(amount: str) -> Transaction:
        item = TransferItem(
            from_account_id=spender.pk,
            to_account_id=payee.pk,
            amount=Decimal(amount),
            pending=True,
            expires_at=now + HOUR,
        )
        return post_batch(actor=alice, items=[item])[0]

    post_batch(
        actor=alice,
        items=[TransferItem(from_account_id=spender.pk, to_account_id=payee.pk, amount=Decimal(5))],
    )
    lapsed_holds = [hold("10.00"), hold("20.00"), hold("30.00")]
    live_hold = hold("1.00")
    lapsed_orders = [
        create_order(actor=alice, account_id=saver.pk, amount=Decimal(amount)) for amount in (9, 8)
    ]
    live_order = create_order(actor=bob, account_id=idle.pk, amount=Decimal(7))
    lost_exports = [
        Export.objects.create(owner=alice, kind=Export.Kind.ENTRIES, account=spender),
        Export.objects.create(owner=alice, kind=Export.Kind.TRANSACTIONS),
    ]
    # The clock moves on by an hour (more, for the snapshots).
    Transaction.objects.filter(pk__in=[h.pk for h in lapsed_holds]).update(expires_at=now - HOUR)
    Order.objects.filter(pk__in=[o.pk for o in lapsed_orders]).update(expires_at=now - HOUR)
    Export.objects.filter(pk__in=[e.pk for e in lost_exports]).update(created_at=now - HOUR)
    lost = Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.PENDING)
    lost_ids = set(lost.values_list("pk", flat=True))
    assert len(lost_ids) >= 6  # the account openings, the transfer, the holds, the orders
    lost.update(next_attempt_at=now - HOUR)
    totals = asset_totals()
    snapshots_before = Counter(BalanceSnapshot.objects.values_list("account_id", flat=True))
    held_before = Account.objects.get(pk=spender.pk).pending_debits

    request.getfixturevalue("eager")  # beat is back, and so is a worker
    results: dict = {}
    _run_twice_at_once_then_again(results)

    # Snapshots: exactly one more for each account that changed since the last, none for others.
    snapshots = Counter(BalanceSnapshot.objects.values_list("account_id", flat=True))
    new = {pk: snapshots[pk] - snapshots_before[pk] for pk in snapshots if snapshots[pk]}
    changed = {spender.pk, payee.pk}  # the transfer; holds made, then released
    assert {pk: n for pk, n in new.items() if n} == dict.fromkeys(changed, 1)
    for pk in changed:  # and it is of the state after the catch-up
        account = Account.objects.get(pk=pk)
        latest = BalanceSnapshot.objects.filter(account_id=pk).latest("taken_at")
        assert (latest.balance, latest.pending_debits, latest.version) == (
            account.balance,
            account.pending_debits,
            account.version,
        )

    # Holds: each voided once, its funds released once (no double refund), one event each.
    spender.refresh_from_db()
    assert Transaction.objects.get(pk=live_hold.pk).status == Transaction.Status.PENDING
    for lapsed in lapsed_holds:
        assert Transaction.objects.get(pk=lapsed.pk).status == Transaction.Status.VOIDED
    released = sum(h.held_amount for h in lapsed_holds)
    assert spender.pending_debits == held_before - released == live_hold.held_amount
    voided = Counter(
        Event.objects.filter(type="transaction.voided").values_list("payload__id", flat=True)
    )
    assert voided == Counter({h.public_id: 1 for h in lapsed_holds})

    # Orders: each expired once, one event each; the live one untouched.
    assert Order.objects.get(pk=live_order.pk).status == Order.Status.PENDING
    for lapsed in lapsed_orders:
        assert Order.objects.get(pk=lapsed.pk).status == Order.Status.EXPIRED
    expired = Counter(
        Event.objects.filter(type="order.expired").values_list("payload__order_id", flat=True)
    )
    assert expired == Counter({o.order_id: 1 for o in lapsed_orders})

    # Exports: each built and announced once.
    for export in lost_exports:
        export.refresh_from_db()
        assert export.status == Export.Status.COMPLETED, export.error
        assert (tmp_path / export.file.name).is_file()
    announced = Counter(
        Event.objects.filter(type="export.completed").values_list("payload__id", flat=True)
    )
    assert announced == Counter({e.public_id: 1 for e in lost_exports})

    # Webhooks: every delivery done, every event of the endpoint received exactly once.
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    assert set(deliveries.values_list("status", flat=True)) == {Delivery.Status.SUCCEEDED}
    assert lost_ids <= set(deliveries.values_list("pk", flat=True))
    received = Counter(hit.event_id for hit in webhook_receiver.hits)
    expected = {str(pk) for pk in deliveries.values_list("event_id", flat=True)}
    assert received == Counter(dict.fromkeys(expected, 1))
    assert results[("again", webhook_tasks.requeue_deliveries.name)] == 0
    requeued = [results[(n, webhook_tasks.requeue_deliveries.name)] for n in ("beat-a", "beat-b")]
    assert sum(requeued) == len(lost_ids)  # each lost delivery re-sent by one of the two

    assert_money_conserved(totals)
