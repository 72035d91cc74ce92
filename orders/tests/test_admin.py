import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from accounts.tests.factories import UserFactory
from orders.models import Order

pytestmark = pytest.mark.django_db

TX_A = "0x" + "a" * 64
CHANGELIST = reverse("admin:orders_order_changelist")


@pytest.fixture
def operator(client):
    user = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def _act(client, action, orders, **fields):
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [o.pk for o in orders], **fields},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_changelist_search_and_filter(operator, customer_account, make_order):
    order = make_order(customer_account)
    for query in [
        {},
        {"status__exact": "pending"},
        {"q": order.order_id},
        {"q": customer_account.public_id},
        {"q": customer_account.owner.email},
    ]:
        response = operator.get(CHANGELIST, query)
        assert response.status_code == 200
        assert order.order_id in response.content.decode()
    detail = operator.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert detail.status_code == 200
    assert "25.00 USD" in detail.content.decode()


def test_complete_action_settles_with_the_given_tx_hash(operator, customer_account, make_order):
    order = make_order(customer_account)
    messages = _act(operator, "complete_selected", [order], tx_hash=TX_A)
    assert messages == [f"{order.order_id}: completed."]
    order.refresh_from_db()
    assert (order.status, order.tx_hash) == (Order.Status.COMPLETED, TX_A)
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500


def test_complete_action_needs_one_order_and_a_tx_hash(operator, customer_account, make_order):
    orders = [make_order(customer_account), make_order(customer_account)]
    assert (
        "Select exactly one order" in _act(operator, "complete_selected", orders, tx_hash=TX_A)[0]
    )
    assert "Select exactly one order" in _act(operator, "complete_selected", orders[:1])[0]
    assert set(Order.objects.values_list("status", flat=True)) == {Order.Status.PENDING}


def test_actions_report_each_row(operator, customer_account, make_order, staff):
    from orders import services

    done, pending = make_order(customer_account), make_order(customer_account)
    services.cancel_order(actor=staff, order_pk=done.pk)
    messages = _act(operator, "fail_selected", [done, pending])
    assert f"{pending.order_id}: failed." in messages
    assert any(m.startswith(f"{done.order_id}: Order") and "cancelled" in m for m in messages)
    assert Order.objects.get(pk=pending.pk).status == Order.Status.FAILED
    assert Order.objects.get(pk=done.pk).status == Order.Status.CANCELLED


def test_cancel_action(operator, customer_account, make_order):
    order = make_order(customer_account)
    assert _act(operator, "cancel_selected", [order]) == [f"{order.order_id}: cancelled."]


def test_orders_cannot_be_added_or_deleted(operator, customer_account, make_order):
    order = make_order(customer_account)
    assert operator.get(reverse("admin:orders_order_add")).status_code == 403
    assert operator.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    response = operator.get(CHANGELIST)
    assert "delete_selected" not in response.content.decode()
