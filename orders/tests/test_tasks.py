from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from orders import tasks
from orders.models import Order
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def overdue(customer_account, make_order):
    order = make_order(customer_account)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    return order


def test_command_expires_overdue_orders_and_is_harmless_twice(overdue):
    out = StringIO()
    call_command("expire_orders", stdout=out)
    call_command("expire_orders", stdout=out)
    assert out.getvalue().splitlines() == [
        "expire_orders: 1 order(s) expired",
        "expire_orders: 0 order(s) expired",
    ]
    assert Order.objects.get(pk=overdue.pk).status == Order.Status.EXPIRED
    assert Event.objects.filter(type="order.expired").count() == 1


def test_task_expires_overdue_orders_and_is_harmless_twice(overdue):
    assert tasks.expire_orders.apply().get() == 1
    assert tasks.expire_orders.apply().get() == 0
    assert Order.objects.get(pk=overdue.pk).status == Order.Status.EXPIRED
    assert Event.objects.filter(type="order.expired").count() == 1


def test_beat_runs_the_task_every_minute():
    periodic = PeriodicTask.objects.get(name="expire-orders")
    assert periodic.task == "orders.tasks.expire_orders"
    assert periodic.enabled
    assert (periodic.interval.every, periodic.interval.period) == (1, "minutes")
    assert periodic.task in tasks.expire_orders.app.tasks
