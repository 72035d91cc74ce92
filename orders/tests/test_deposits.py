"""The indexer feed, POST /api/v1/orders/deposits: settle once per tx_hash, review mismatches."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import create_api_key
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from conftest import client_for
from ledger.models import Transaction
from ledgerflow.errors import ValidationFailed
from orders import services
from orders.models import Deposit, Order
from webhooks.models import Event

pytestmark = pytest.mark.django_db

DEPOSITS = "/api/v1/orders/deposits"
TX_A = "0x" + "a" * 64
TX_B = "0x" + "b" * 64


@pytest.fixture
def indexer_user(db):
    """A staff user holding only the indexer right, as README tells operators to set up."""
    return UserFactory(is_staff=True, rights=["orders.record_deposit"])


@pytest.fixture
def indexer(indexer_user) -> APIClient:
    _, raw_key = create_api_key(actor=indexer_user, name="indexer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    return client


@pytest.fixture
def order(customer_account, make_order) -> Order:
    return make_order(customer_account, "25.00")


def _report(client, order, tx_hash=TX_A, amount="25.00", confirmations=12, **headers):
    body = {
        "order_id": order if isinstance(order, str) else order.order_id,
        "tx_hash": tx_hash,
        "amount": amount,
        "confirmations": confirmations,
    }
    return client.post(DEPOSITS, body, format="json", headers=headers)


def _books(account):
    """What a refused report must leave as it was."""
    account.refresh_from_db()
    return (
        account.balance,
        Transaction.objects.count(),
        list(Order.objects.order_by("pk").values_list("status", "tx_hash", "received_amount")),
        list(Deposit.objects.order_by("pk").values_list("tx_hash", "status", "confirmations")),
        Event.objects.count(),
    )


def test_matching_deposit_completes_and_settles_the_order(indexer, order, customer_account):
    response = _report(indexer, order)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "settled"
    assert body["tx_hash"] == TX_A
    assert body["amount"] == "25.00"
    assert body["asset"] == "USD"
    assert body["confirmations"] == 12
    assert body["order"]["status"] == "completed"
    assert body["order"]["tx_hash"] == TX_A
    txn = Transaction.objects.get(public_id=body["order"]["transaction"])
    assert txn.kind == Transaction.Kind.ORDER_SETTLEMENT
    assert txn.amount == 2500
    assert txn.metadata == {"order_id": order.order_id, "tx_hash": TX_A}
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Event.objects.filter(type="order.completed").count() == 1
    assert Event.objects.filter(type="transaction.posted").count() == 1
    # The indexer's key acts for a staff user: the settlement is audited like any other.
    assert AuditLog.objects.filter(action="money.order_settlement.posted").count() == 1


def test_replay_answers_the_same_and_moves_no_money(indexer, order, customer_account):
    first = _report(indexer, order)
    before = _books(customer_account)

    again = _report(indexer, order)

    assert again.status_code == first.status_code == 200
    assert again.json() == first.json()
    assert _books(customer_account) == before
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1


def test_a_replay_with_more_confirmations_only_records_them(indexer, order, customer_account):
    _report(indexer, order, confirmations=3)

    again = _report(indexer, order, confirmations=40)
    older = _report(indexer, order, confirmations=5)  # an out-of-date report lowers nothing

    assert again.status_code == older.status_code == 200
    assert older.json()["confirmations"] == 40
    assert Deposit.objects.get().confirmations == 40
    assert Transaction.objects.filter(kind=Transaction.Kind.ORDER_SETTLEMENT).count() == 1


def test_too_few_confirmations_records_without_settling(indexer, order, customer_account, settings):
    settings.ORDER_MIN_CONFIRMATIONS = 6

    seen = _report(indexer, order, confirmations=2)

    assert seen.status_code == 202, seen.json()
    assert seen.json()["status"] == "pending"
    assert seen.json()["order"]["status"] == "pending"
    customer_account.refresh_from_db()
    assert customer_account.balance == 0
    assert not Transaction.objects.exists()
    assert not Event.objects.filter(type="order.completed").exists()

    confirmed = _report(indexer, order, confirmations=6)

    assert confirmed.status_code == 200, confirmed.json()
    assert confirmed.json()["status"] == "settled"
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    assert Deposit.objects.get().confirmations == 6


def test_zero_confirmations_is_only_seen_by_default(indexer, order, customer_account):
    response = _report(indexer, order, confirmations=0)

    assert response.status_code == 202
    assert not Transaction.objects.exists()


def test_a_different_amount_sends_the_order_to_review(indexer, order, customer_account):
    response = _report(indexer, order, amount="24.5")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "needs_review"
    assert body["amount"] == "24.50"
    assert body["order"]["status"] == "needs_review"
    assert body["order"]["amount"] == "25.00"
    assert body["order"]["received_amount"] == "24.50"
    assert body["order"]["tx_hash"] == TX_A
    assert body["order"]["transaction"] is None
    customer_account.refresh_from_db()
    assert customer_account.balance == 0
    assert not Transaction.objects.exists()
    event = Event.objects.get(type="order.needs_review")
    assert event.payload["received_amount"] == "24.50"
    assert not Event.objects.filter(type="order.completed").exists()

    before = _books(customer_account)
    again = _report(indexer, order, amount="24.50")
    assert (again.status_code, again.json()) == (202, body)
    assert _books(customer_account) == before


def test_the_review_queue_lists_orders_in_review(indexer, order, staff_client):
    _report(indexer, order, amount="30.00")

    queue = staff_client.get("/api/v1/admin/orders", {"status": "needs_review"}).json()

    assert queue["total_count"] == 1
    assert queue["results"][0]["received_amount"] == "30.00"


def test_operator_completes_a_reviewed_order_with_the_amount_received(
    indexer, order, customer_account, staff_client
):
    _report(indexer, order, amount="24.50")
    path = f"/api/v1/orders/{order.order_id}/complete"

    wrong = staff_client.post(path, {"tx_hash": TX_B}, format="json")
    assert wrong.status_code == 422
    assert "tx_hash" in wrong.json()["errors"]

    response = staff_client.post(path, {"tx_hash": TX_A}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "completed"
    customer_account.refresh_from_db()
    assert customer_account.balance == 2450  # what reached the vault, not what was ordered
    assert Deposit.objects.get().status == Deposit.Status.SETTLED
    replay = _report(indexer, order, amount="24.50")
    assert replay.status_code == 200
    assert replay.json()["status"] == "settled"
    assert Transaction.objects.count() == 1


def test_operator_fails_a_reviewed_order_and_nothing_moves(
    indexer, order, customer_account, staff_client
):
    _report(indexer, order, amount="99.00")

    response = staff_client.post(f"/api/v1/orders/{order.order_id}/fail", format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "failed"
    customer_account.refresh_from_db()
    assert customer_account.balance == 0
    assert not Transaction.objects.exists()


def test_a_reviewed_order_cannot_be_cancelled_or_expired(indexer, order, customer_client):
    _report(indexer, order, amount="1.00")
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = customer_client.post(f"/api/v1/orders/{order.order_id}/cancel", format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert services.expire_orders() == 0
    order.refresh_from_db()
    assert order.status == Order.Status.NEEDS_REVIEW


def test_second_payment_for_a_completed_order_is_refused(indexer, order, customer_account):
    _report(indexer, order, tx_hash=TX_A)
    before = _books(customer_account)

    response = _report(indexer, order, tx_hash=TX_B)

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert TX_A in response.json()["detail"]
    assert _books(customer_account) == before


def test_a_second_payment_for_an_order_in_review_is_refused(indexer, order, customer_account):
    _report(indexer, order, tx_hash=TX_A, amount="1.00")
    before = _books(customer_account)

    response = _report(indexer, order, tx_hash=TX_B, amount="25.00")

    assert response.status_code == 409
    assert _books(customer_account) == before


def test_one_payment_cannot_pay_two_orders(indexer, customer_account, make_order):
    first, second = make_order(customer_account, "25.00"), make_order(customer_account, "25.00")
    _report(indexer, first, confirmations=0)  # seen for the first, not yet settled
    before = _books(customer_account)

    response = _report(indexer, second)

    assert response.status_code == 422
    assert "tx_hash" in response.json()["errors"]
    assert _books(customer_account) == before


def test_a_replay_that_contradicts_the_record_is_refused(indexer, order, customer_account):
    _report(indexer, order, confirmations=0)
    before = _books(customer_account)

    response = _report(indexer, order, amount="26.00", confirmations=12)

    assert response.status_code == 422
    assert "tx_hash" in response.json()["errors"]
    assert _books(customer_account) == before


@pytest.mark.parametrize("final", ["expire", "cancel", "fail"])
def test_a_payment_for_a_closed_order_is_refused(final, indexer, order, customer, customer_account):
    if final == "expire":
        Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        services.expire_orders()
    elif final == "cancel":
        services.cancel_order(actor=customer, order_pk=order.pk)
    else:
        services.fail_order(actor=None, order_pk=order.pk)
    before = _books(customer_account)

    response = _report(indexer, order)

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    assert _books(customer_account) == before


def test_a_payment_still_confirming_keeps_its_order_from_expiring(
    indexer, order, customer_account, settings
):
    settings.ORDER_MIN_CONFIRMATIONS = 3
    _report(indexer, order, confirmations=1)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert services.expire_orders() == 0
    response = _report(indexer, order, confirmations=3)

    assert response.status_code == 200
    assert response.json()["order"]["status"] == "completed"


def test_a_hand_completed_order_is_recorded_when_the_indexer_reports_it(
    indexer, order, customer_account, staff
):
    services.complete_order(actor=staff, order_pk=order.pk, tx_hash=TX_A)

    response = _report(indexer, order)

    assert response.status_code == 200
    assert response.json()["status"] == "settled"
    assert Transaction.objects.count() == 1
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500


def test_a_report_contradicting_a_hand_completion_is_refused(
    indexer, order, customer_account, staff
):
    services.complete_order(actor=staff, order_pk=order.pk, tx_hash=TX_A)
    before = _books(customer_account)

    response = _report(indexer, order, amount="20.00")

    assert response.status_code == 422
    assert "amount" in response.json()["errors"]
    assert _books(customer_account) == before


def test_hand_completion_refuses_a_hash_reported_for_another_order(
    indexer, customer_account, make_order, staff
):
    first, second = make_order(customer_account), make_order(customer_account)
    _report(indexer, first, confirmations=0)

    with pytest.raises(ValidationFailed) as refused:
        services.complete_order(actor=staff, order_pk=second.pk, tx_hash=TX_A)

    assert first.order_id in refused.value.detail
    second.refresh_from_db()
    assert second.status == Order.Status.PENDING
    assert not Transaction.objects.exists()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"tx_hash": "0x1234"}, 400, "tx_hash"),
        ({"confirmations": -1}, 400, "confirmations"),
        ({"amount": "-5"}, 400, "amount"),
        ({"amount": "25.001"}, 422, "amount"),
        ({"order_id": "not-an-order"}, 404, None),
        ({"order_id": "0x" + "c" * 64}, 404, None),
    ],
    ids=["bad-hash", "negative-confirmations", "negative-amount", "excess-decimals", "bad-id",
         "no-order"],
)  # fmt: skip
def test_bad_reports_are_refused(indexer, order, customer_account, body, status, field):
    before = _books(customer_account)
    payload = {"order_id": order.order_id, "tx_hash": TX_A, "amount": "25", "confirmations": 9}

    response = indexer.post(DEPOSITS, {**payload, **body}, format="json")

    assert response.status_code == status, response.json()
    assert response["Content-Type"] == "application/problem+json"
    if field:
        assert field in response.json()["errors"]
    assert _books(customer_account) == before


def test_order_id_and_hash_in_any_case(indexer, order):
    response = _report(indexer, order.order_id.upper().replace("0X", ""), tx_hash=TX_A.upper())

    assert response.status_code == 200
    assert response.json()["tx_hash"] == TX_A


def test_only_the_indexer_right_may_report(order, customer_account, customer, staff):
    before = _books(customer_account)
    for user in (customer, staff):  # staff: every operator right but this one
        response = _report(client_for(user), order)
        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
    assert _books(customer_account) == before


def test_a_person_with_the_right_may_report_with_a_jwt(indexer_user, order):
    response = _report(client_for(indexer_user), order)

    assert response.status_code == 200


def test_an_idempotency_key_replays_the_report(indexer, order):
    first = _report(indexer, order, **{"Idempotency-Key": "dep-1"})
    again = _report(indexer, order, **{"Idempotency-Key": "dep-1"})

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()


def test_service_records_the_reporter(indexer_user, order):
    deposit = services.record_deposit(
        actor=indexer_user,
        order_id=order.order_id,
        tx_hash=TX_A,
        amount=Decimal("25"),
        confirmations=1,
    )

    assert deposit.reported_by == indexer_user
    assert deposit.status == Deposit.Status.SETTLED


def test_admin_review_queue_shows_both_amounts_and_completes_with_what_arrived(
    client, indexer, order, customer_account
):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    _report(indexer, order, amount="24.50")
    changelist = "/admin/orders/order/"

    page = client.get(changelist, {"status__exact": "needs_review"}).content.decode()
    assert order.order_id in page
    assert "25.00 USD" in page
    assert "24.50 USD" in page

    response = client.post(
        changelist,
        {"action": "complete_selected", "_selected_action": [order.pk], "tx_hash": TX_A},
        follow=True,
    )

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.COMPLETED
    customer_account.refresh_from_db()
    assert customer_account.balance == 2450


def test_an_unconfirmed_second_payment_for_an_order_in_review_is_refused(
    indexer, order, customer_account
):
    _report(indexer, order, tx_hash=TX_A, amount="1.00")
    before = _books(customer_account)

    response = _report(indexer, order, tx_hash=TX_B, confirmations=0)

    assert response.status_code == 409
    assert _books(customer_account) == before
