"""The operator queue for orders and the account actions: defaults, search, per-row outcomes,
and an audit row for every action that took effect."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from accounts.models import Account, ApiKey
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from orders.models import Order
from orders.services import complete_order, create_order

pytestmark = pytest.mark.django_db

QUEUE = "/admin/orders/order/"
TX = "0x" + "b" * 64


@pytest.fixture
def superuser():
    return UserFactory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def orders(customer, account_factory, settings, staff):
    """Three orders: the oldest and the newest pending, the middle one completed."""
    settings.MAX_PENDING_ORDERS = 10
    account = account_factory(owner=customer)
    made = [
        create_order(actor=customer, account_id=account.pk, amount=Decimal("5.00"))
        for _ in range(3)
    ]
    for age, order in zip((3, 2, 1), made, strict=True):
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=age))
    complete_order(actor=staff, order_pk=made[1].pk, tx_hash=TX)
    return made


def shown(response) -> list[str]:
    return [order.order_id for order in response.context["cl"].result_list]


def act(client, action, objects, **fields):
    response = client.post(
        QUEUE,
        {"action": action, "_selected_action": [o.pk for o in objects], **fields},
        follow=True,
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_queue_shows_pending_orders_oldest_first_by_default(admin_client, orders):
    oldest, completed, newest = orders

    assert shown(admin_client.get(QUEUE)) == [oldest.order_id, newest.order_id]
    assert shown(admin_client.get(QUEUE, {"status__exact": "pending"})) == [
        oldest.order_id,
        newest.order_id,
    ]
    everything = admin_client.get(QUEUE, {"status__exact": "all"})
    assert shown(everything) == [o.order_id for o in orders]
    assert shown(admin_client.get(QUEUE, {"status__exact": "completed"})) == [completed.order_id]


def test_search_looks_through_every_status(admin_client, orders, customer):
    _, completed, _ = orders

    assert shown(admin_client.get(QUEUE, {"q": TX})) == [completed.order_id]
    assert shown(admin_client.get(QUEUE, {"q": completed.order_id})) == [completed.order_id]
    assert len(shown(admin_client.get(QUEUE, {"q": customer.email}))) == 3
    account_id = completed.account.public_id
    assert len(shown(admin_client.get(QUEUE, {"q": account_id}))) == 3


def test_complete_is_audited_with_before_and_after(admin_client, orders, superuser):
    oldest = orders[0]
    tx = "0x" + "c" * 64

    assert act(admin_client, "complete_selected", [oldest], tx_hash=tx) == [
        f"{oldest.order_id}: completed."
    ]

    row = AuditLog.objects.get(action="order.complete")
    assert (row.actor, row.target_type, row.target_id) == (
        superuser,
        "orders.Order",
        str(oldest.pk),
    )
    assert (row.before["status"], row.after["status"]) == ("pending", "completed")
    assert row.after["tx_hash"] == tx
    assert oldest.account.owner.accounts.get().balance == 1000


def test_each_row_reports_its_outcome_and_only_successes_are_audited(admin_client, orders):
    oldest, completed, newest = orders

    messages = act(admin_client, "cancel_selected", [oldest, completed, newest])

    assert messages[0] == f"{oldest.order_id}: cancelled."
    assert messages[1].startswith(f"{completed.order_id}: ")
    assert "completed" in messages[1]
    assert messages[2] == f"{newest.order_id}: cancelled."
    audited = AuditLog.objects.filter(action="order.cancel").values_list("target_id", flat=True)
    assert sorted(audited) == sorted([str(oldest.pk), str(newest.pk)])
    assert Order.objects.get(pk=completed.pk).status == Order.Status.COMPLETED


def test_fail_is_audited(admin_client, orders):
    act(admin_client, "fail_selected", [orders[0]])
    assert AuditLog.objects.get(action="order.fail").after["status"] == "failed"


def test_freeze_and_unfreeze_are_audited(admin_client, customer, account_factory):
    account = account_factory(owner=customer)

    for action in ("freeze_selected", "unfreeze_selected"):
        admin_client.post(
            "/admin/accounts/account/", {"action": action, "_selected_action": [account.pk]}
        )

    rows = list(AuditLog.objects.order_by("pk"))
    assert [(r.action, r.before["status"], r.after["status"]) for r in rows] == [
        ("account.freeze", "active", "frozen"),
        ("account.unfreeze", "frozen", "active"),
    ]
    assert Account.objects.get(pk=account.pk).status == "active"


def test_api_key_creation_and_revocation_are_audited_without_the_secret(admin_client):
    admin_client.post("/admin/accounts/apikey/add/", {"name": "indexer"})
    api_key = ApiKey.objects.get()
    admin_client.post(
        "/admin/accounts/apikey/", {"action": "revoke_selected", "_selected_action": [api_key.pk]}
    )

    created, revoked = AuditLog.objects.order_by("pk")
    assert (created.action, revoked.action) == ("apikey.add", "apikey.revoke")
    assert "hashed_key" not in created.after
    assert revoked.before["revoked_at"] is None
    assert revoked.after["revoked_at"] is not None


def test_asset_edit_is_audited(admin_client):
    from accounts.models import Asset

    usd = Asset.objects.get(code="USD")
    response = admin_client.post(f"/admin/accounts/asset/{usd.pk}/change/", {"name": "Dollar (US)"})

    assert response.status_code == 302
    row = AuditLog.objects.get(action="asset.change")
    assert (row.before["name"], row.after["name"]) == (usd.name, "Dollar (US)")
