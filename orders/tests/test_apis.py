from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import create_api_key
from ledger.models import Transaction
from orders.models import Order
from webhooks.models import Event

pytestmark = pytest.mark.django_db

TX_A = "0x" + "a" * 64
ORDERS = "/api/v1/orders"


def _post(client, path, data=None, **headers):
    return client.post(path, data or {}, format="json", headers=headers)


def _snapshot(account):
    account.refresh_from_db()
    return (
        account.balance,
        Transaction.objects.count(),
        list(Order.objects.order_by("pk").values_list("status", "tx_hash")),
        Event.objects.count(),
    )


@pytest.fixture
def order(customer_client, customer_account):
    response = _post(customer_client, ORDERS, {"account": customer_account.public_id, "amount": 25})
    assert response.status_code == 201, response.json()
    return response.json()


def test_create_order(customer_client, customer_account, settings):
    response = _post(
        customer_client, ORDERS, {"account": customer_account.public_id, "amount": "25.5"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    stored = Order.objects.get()
    assert body == {
        "order_id": stored.order_id,
        "account": customer_account.public_id,
        "amount": "25.50",
        "received_amount": None,
        "asset": "USD",
        "status": "pending",
        "vault_address": settings.VAULT_ADDRESS,
        "tx_hash": None,
        "expires_at": body["expires_at"],
        "created_at": body["created_at"],
        "completed_at": None,
        "transaction": None,
    }
    assert len(body["order_id"]) == 66
    assert body["order_id"] == body["order_id"].lower()


def test_create_on_someone_elses_account_is_404(other_client, customer_account):
    response = _post(other_client, ORDERS, {"account": customer_account.public_id, "amount": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Order.objects.exists()


def test_operator_creates_an_order_for_a_customer(staff, customer_account):
    _, raw_key = create_api_key(actor=staff, name="bot")  # keys act as operators
    bot = APIClient()
    bot.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    response = _post(bot, ORDERS, {"account": customer_account.public_id, "amount": 1})
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(
    ("amount", "status_code"), [("0", 400), ("-1", 400), ("abc", 400), ("1.001", 422)]
)
def test_bad_amounts_are_field_errors(customer_client, customer_account, amount, status_code):
    response = _post(
        customer_client, ORDERS, {"account": customer_account.public_id, "amount": amount}
    )
    assert response.status_code == status_code
    assert response.json()["code"] == "validation_error"
    assert "amount" in response.json()["errors"]
    assert not Order.objects.exists()


def test_third_pending_order_is_409(customer_client, customer_account):
    data = {"account": customer_account.public_id, "amount": 1}
    assert _post(customer_client, ORDERS, data).status_code == 201
    assert _post(customer_client, ORDERS, data).status_code == 201
    response = _post(customer_client, ORDERS, data)
    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "too_many_pending_orders"
    assert Order.objects.count() == 2


def test_create_with_idempotency_key_is_replayed(customer_client, customer_account):
    data = {"account": customer_account.public_id, "amount": "3.00"}
    first = _post(customer_client, ORDERS, data, **{"Idempotency-Key": "order-1"})
    second = _post(customer_client, ORDERS, data, **{"Idempotency-Key": "order-1"})
    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert second.json() == first.json()
    assert Order.objects.count() == 1
    assert Event.objects.filter(type="order.created").count() == 1


def test_unauthenticated_is_401(api_client):
    assert api_client.get(ORDERS).status_code == 401
    assert _post(api_client, ORDERS, {"account": "x", "amount": 1}).status_code == 401


# --- reads -----------------------------------------------------------------------------------


def test_list_shows_own_orders_newest_first_and_filters_by_status(
    customer_client, other_client, customer_account, order, staff_client
):
    second = _post(
        customer_client, ORDERS, {"account": customer_account.public_id, "amount": 2}
    ).json()
    _post(staff_client, f"{ORDERS}/{order['order_id']}/fail")
    listed = customer_client.get(ORDERS).json()
    assert [o["order_id"] for o in listed["results"]] == [second["order_id"], order["order_id"]]
    assert {"next", "previous"} <= listed.keys()
    pending = customer_client.get(ORDERS, {"status": "pending"}).json()["results"]
    assert [o["order_id"] for o in pending] == [second["order_id"]]
    assert other_client.get(ORDERS).json()["results"] == []


def test_list_with_unknown_status_is_400(customer_client):
    response = customer_client.get(ORDERS, {"status": "paid"})
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


@pytest.mark.parametrize(
    "spelling", [str.lower, str.upper, lambda i: i[2:], lambda i: i[2:].upper()]
)
def test_detail_accepts_the_id_with_or_without_0x_in_any_case(customer_client, order, spelling):
    response = customer_client.get(f"{ORDERS}/{spelling(order['order_id'])}")
    assert response.status_code == 200
    assert response.json() == order


def test_someone_elses_order_is_404_everywhere(other_client, order, customer_account):
    before = _snapshot(customer_account)
    for response in [
        other_client.get(f"{ORDERS}/{order['order_id']}"),
        _post(other_client, f"{ORDERS}/{order['order_id']}/cancel"),
    ]:
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
    assert _snapshot(customer_account) == before


def test_unknown_or_malformed_order_id_is_404(customer_client):
    assert customer_client.get(f"{ORDERS}/0x{'0' * 64}").status_code == 404
    assert customer_client.get(f"{ORDERS}/not-an-id").status_code == 404


def test_staff_can_read_any_order(staff_client, order):
    assert staff_client.get(f"{ORDERS}/{order['order_id']}").json() == order


# --- transitions -----------------------------------------------------------------------------


def test_staff_completes_an_order(staff_client, order, customer_account):
    response = _post(
        staff_client, f"{ORDERS}/{order['order_id']}/complete", {"tx_hash": TX_A.upper()}
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "completed"
    assert body["tx_hash"] == TX_A
    assert body["completed_at"] is not None
    txn = Transaction.objects.get(public_id=body["transaction"])
    assert txn.kind == Transaction.Kind.ORDER_SETTLEMENT
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500


def test_api_key_completes_an_order(order, staff, customer_account):
    _, raw_key = create_api_key(actor=staff, name="indexer")
    indexer = APIClient()
    indexer.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    response = _post(indexer, f"{ORDERS}/{order['order_id']}/complete", {"tx_hash": TX_A})
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"


@pytest.mark.parametrize("action", ["complete", "fail"])
def test_customers_cannot_complete_or_fail_even_their_own_order(
    customer_client, order, customer_account, action
):
    before = _snapshot(customer_account)
    response = _post(customer_client, f"{ORDERS}/{order['order_id']}/{action}", {"tx_hash": TX_A})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert _snapshot(customer_account) == before


@pytest.mark.parametrize("tx_hash", ["", "0x123", "a" * 64, "0x" + "z" * 64])
def test_malformed_tx_hash_is_400(staff_client, order, customer_account, tx_hash):
    before = _snapshot(customer_account)
    response = _post(staff_client, f"{ORDERS}/{order['order_id']}/complete", {"tx_hash": tx_hash})
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "tx_hash" in response.json()["errors"]
    assert _snapshot(customer_account) == before


def test_reused_tx_hash_is_422(staff_client, customer_client, order, customer_account):
    second = _post(
        customer_client, ORDERS, {"account": customer_account.public_id, "amount": 5}
    ).json()
    _post(staff_client, f"{ORDERS}/{order['order_id']}/complete", {"tx_hash": TX_A})
    before = _snapshot(customer_account)
    response = _post(staff_client, f"{ORDERS}/{second['order_id']}/complete", {"tx_hash": TX_A})
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert order["order_id"] in body["errors"]["tx_hash"][0]
    assert _snapshot(customer_account) == before


def test_second_completion_is_409_invalid_state(staff_client, order, customer_account):
    path = f"{ORDERS}/{order['order_id']}/complete"
    assert _post(staff_client, path, {"tx_hash": TX_A}).status_code == 200
    before = _snapshot(customer_account)
    response = _post(staff_client, path, {"tx_hash": "0x" + "b" * 64})
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert _snapshot(customer_account) == before


def test_completion_replayed_by_idempotency_key_credits_once(staff_client, order, customer_account):
    path = f"{ORDERS}/{order['order_id']}/complete"
    first = _post(staff_client, path, {"tx_hash": TX_A}, **{"Idempotency-Key": "pay-1"})
    second = _post(staff_client, path, {"tx_hash": TX_A}, **{"Idempotency-Key": "pay-1"})
    assert first.status_code == second.status_code == 200
    assert second["Idempotent-Replayed"] == "true"
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500


def test_owner_cancels_own_order(customer_client, order, customer_account):
    response = _post(customer_client, f"{ORDERS}/{order['order_id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    customer_account.refresh_from_db()
    assert customer_account.balance == 0
    again = _post(customer_client, f"{ORDERS}/{order['order_id']}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_state"


def test_staff_fails_and_cancels_any_order(staff_client, customer_client, order, customer_account):
    second = _post(
        customer_client, ORDERS, {"account": customer_account.public_id, "amount": 5}
    ).json()
    failed = _post(staff_client, f"{ORDERS}/{order['order_id']}/fail")
    cancelled = _post(staff_client, f"{ORDERS}/{second['order_id']}/cancel")
    assert (failed.status_code, failed.json()["status"]) == (200, "failed")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    customer_account.refresh_from_db()
    assert customer_account.balance == 0


# --- the operator queue ----------------------------------------------------------------------

QUEUE = "/api/v1/admin/orders"


@pytest.fixture
def five_pending(account_factory, customer, make_order):
    orders = [make_order(account_factory(owner=customer, asset__code="USD")) for _ in range(5)]
    start = timezone.now() - timedelta(hours=1)
    for index, order in enumerate(reversed(orders)):  # oldest is the last created
        Order.objects.filter(pk=order.pk).update(created_at=start + timedelta(minutes=index))
    return list(reversed(orders))  # oldest first


def test_queue_is_staff_only(customer_client):
    response = customer_client.get(QUEUE)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_queue_pages_pending_orders_oldest_first(staff_client, five_pending, staff):
    from orders import services

    services.fail_order(actor=staff, order_pk=five_pending[2].pk)
    body = staff_client.get(QUEUE, {"status": "pending", "limit": 2, "offset": 1}).json()
    assert body["total_count"] == 4
    assert (body["limit"], body["offset"]) == (2, 1)
    expected = [five_pending[1].order_id, five_pending[3].order_id]
    assert [o["order_id"] for o in body["results"]] == expected


def test_queue_defaults_and_limits(staff_client, five_pending):
    body = staff_client.get(QUEUE).json()
    assert (body["total_count"], body["limit"], body["offset"]) == (5, 50, 0)
    assert [o["order_id"] for o in body["results"]] == [o.order_id for o in five_pending]
    assert staff_client.get(QUEUE, {"limit": 10_000}).json()["limit"] == 500
    for bad in ({"limit": 0}, {"limit": "x"}, {"offset": -1}):
        response = staff_client.get(QUEUE, bad)
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
    past_the_end = staff_client.get(QUEUE, {"offset": 10}).json()
    assert (past_the_end["total_count"], past_the_end["results"]) == (5, [])


def test_queue_other_status_and_bad_status(staff_client, five_pending, staff):
    from orders import services

    services.cancel_order(actor=staff, order_pk=five_pending[0].pk)
    body = staff_client.get(QUEUE, {"status": "cancelled"}).json()
    assert [o["order_id"] for o in body["results"]] == [five_pending[0].order_id]
    assert staff_client.get(QUEUE, {"status": "nope"}).status_code == 400


def test_queue_sets_the_pending_gauge(staff_client, five_pending):
    from ledgerflow import metrics

    metrics.PENDING_ORDERS.set(0)
    staff_client.get(QUEUE)
    assert metrics.PENDING_ORDERS._value.get() == 5
