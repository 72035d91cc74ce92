from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from django.test import override_settings
from django.utils import timezone

from accounts.errors import AccountInactive
from accounts.models import Account
from accounts.services import system_account
from ledger.models import Transaction
from ledgerflow.errors import InvalidState, ValidationFailed
from orders import services
from orders.errors import TooManyPendingOrders
from orders.ids import order_id_for
from orders.models import Order
from webhooks.models import Event

pytestmark = pytest.mark.django_db

TX_A = "0x" + "a" * 64
TX_B = "0x" + "b" * 64
Status = Order.Status
TERMINAL = [Status.COMPLETED, Status.FAILED, Status.CANCELLED, Status.EXPIRED]


def _move(order, target, actor, tx_hash=TX_A):
    """Drive `order` to `target` through the service that does it."""
    if target == Status.COMPLETED:
        return services.complete_order(actor=actor, order_pk=order.pk, tx_hash=tx_hash)
    if target == Status.FAILED:
        return services.fail_order(actor=actor, order_pk=order.pk)
    if target == Status.CANCELLED:
        return services.cancel_order(actor=actor, order_pk=order.pk)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert services.expire_orders() == 1
    order.refresh_from_db()
    return order


def _books(account):
    account.refresh_from_db()
    return account.balance, Transaction.objects.count(), Event.objects.count()


# --- creation --------------------------------------------------------------------------------


def test_create_order_is_pending_with_id_from_sequence(customer_account, make_order, settings):
    settings.VAULT_ADDRESS = "0x71c7656ec7ab88b098defb751b7401b5f6d8976f"
    before = timezone.now()
    order = make_order(customer_account, "25.50")
    assert order.status == Status.PENDING
    assert order.amount == 2550
    assert order.asset == customer_account.asset
    assert order.sequence == 1
    assert order.broker_id == "ledgerflow-vault"
    assert order.order_id == order_id_for(
        broker_id="ledgerflow-vault", account_id=customer_account.public_id, sequence=1
    )
    assert order.vault_address == "0x71c7656ec7ab88b098defb751b7401b5f6d8976f"
    assert before + timedelta(seconds=settings.ORDER_TTL) <= order.expires_at
    event = Event.objects.get(type="order.created")
    assert event.payload["order_id"] == order.order_id
    assert event.payload["amount"] == "25.50"
    assert event.account_id == customer_account.pk
    assert customer_account.balance == 0  # an order moves no money until completed


def test_orders_created_in_the_same_instant_get_distinct_ids(customer_account, make_order):
    instant = timezone.now()
    with mock.patch("django.utils.timezone.now", return_value=instant):
        first, second = make_order(customer_account), make_order(customer_account)
    assert first.created_at == second.created_at == instant
    assert (first.sequence, second.sequence) == (1, 2)
    assert first.order_id != second.order_id


def test_sequence_keeps_counting_after_orders_finish(customer_account, make_order, staff):
    for _ in range(3):
        services.cancel_order(actor=staff, order_pk=make_order(customer_account).pk)
    assert make_order(customer_account).sequence == 4


def test_broker_id_comes_from_settings(customer_account, make_order, settings):
    settings.BROKER_ID = "other-broker"
    order = make_order(customer_account)
    assert order.broker_id == "other-broker"
    assert order.order_id == order_id_for(
        broker_id="other-broker", account_id=customer_account.public_id, sequence=1
    )


def test_third_pending_order_is_refused(customer_account, make_order):
    make_order(customer_account)
    make_order(customer_account)
    before = (Order.objects.count(), Event.objects.count())
    with pytest.raises(TooManyPendingOrders) as exc:
        make_order(customer_account)
    assert exc.value.status == 409
    assert exc.value.code == "too_many_pending_orders"
    assert (Order.objects.count(), Event.objects.count()) == before


def test_finished_orders_do_not_count_against_the_limit(customer_account, make_order, staff):
    services.fail_order(actor=staff, order_pk=make_order(customer_account).pk)
    make_order(customer_account)
    make_order(customer_account)
    assert Order.objects.filter(account=customer_account, status=Status.PENDING).count() == 2


@override_settings(MAX_PENDING_ORDERS=1)
def test_limit_comes_from_settings(customer_account, make_order):
    make_order(customer_account)
    with pytest.raises(TooManyPendingOrders):
        make_order(customer_account)


def test_limit_is_per_account(account_factory, customer, make_order):
    first = account_factory(owner=customer, asset__code="USD")
    second = account_factory(owner=customer, asset__code="USD")
    for account in (first, second, first, second):
        make_order(account)
    assert Order.objects.count() == 4


@pytest.mark.parametrize("status", [Account.Status.FROZEN, Account.Status.CLOSED])
def test_inactive_account_cannot_take_orders(customer_account, make_order, status):
    Account.objects.filter(pk=customer_account.pk).update(status=status)
    with pytest.raises(AccountInactive):
        make_order(customer_account)
    assert not Order.objects.exists()
    assert not Event.objects.filter(type="order.created").exists()


def test_system_account_cannot_take_orders(customer_account, make_order):
    vault = system_account(asset=customer_account.asset, system_code=Account.System.VAULT)
    with pytest.raises(ValidationFailed) as exc:
        make_order(vault)
    assert "account" in exc.value.errors
    assert not Order.objects.exists()


def test_amount_with_too_many_decimals_is_refused(customer_account, make_order):
    with pytest.raises(ValidationFailed) as exc:
        make_order(customer_account, "1.005")
    assert "amount" in exc.value.errors
    assert not Order.objects.exists()


def test_amount_uses_the_asset_exponent(account_factory, customer, make_order):
    usdc = account_factory(owner=customer, asset__code="USDC")
    assert make_order(usdc, "1.000001").amount == 1_000_001


# --- transitions -----------------------------------------------------------------------------


@pytest.mark.parametrize("target", TERMINAL)
def test_every_allowed_transition_from_pending(customer_account, make_order, staff, target):
    order = make_order(customer_account)
    moved = _move(order, target, staff)
    assert moved.status == target
    stored = Order.objects.get(pk=order.pk)
    assert stored.status == target
    assert Event.objects.filter(type=f"order.{target}").count() == 1
    event = Event.objects.get(type=f"order.{target}")
    assert event.payload["status"] == target
    assert event.payload["order_id"] == order.order_id
    assert event.owner_id == customer_account.owner_id


@pytest.mark.parametrize("start", TERMINAL)
@pytest.mark.parametrize("target", [Status.COMPLETED, Status.FAILED, Status.CANCELLED])
def test_every_forbidden_transition_is_invalid_state(
    customer_account, make_order, staff, start, target
):
    order = _move(make_order(customer_account), start, staff)
    before = _books(customer_account)
    with pytest.raises(InvalidState) as exc:
        _move(order, target, staff, tx_hash=TX_B)
    assert exc.value.code == "invalid_state"
    assert exc.value.status == 409
    assert Order.objects.get(pk=order.pk).status == start
    assert _books(customer_account) == before


@pytest.mark.parametrize("start", TERMINAL)
def test_finished_orders_never_expire(customer_account, make_order, staff, start):
    order = _move(make_order(customer_account), start, staff)
    Order.objects.filter(pk=order.pk).update(expires_at=timezone.now() - timedelta(days=1))
    assert services.expire_orders() == 0
    assert Order.objects.get(pk=order.pk).status == start


def test_completion_credits_the_order_amount_from_the_vault(customer_account, make_order, staff):
    order = make_order(customer_account, "25.00")
    completed = services.complete_order(actor=staff, order_pk=order.pk, tx_hash=TX_A.upper())
    assert completed.status == Status.COMPLETED
    assert completed.tx_hash == TX_A
    assert completed.completed_at is not None
    txn = completed.settlement
    assert txn.kind == Transaction.Kind.ORDER_SETTLEMENT
    assert txn.amount == 2500
    assert txn.reference == order.order_id
    assert txn.metadata == {"order_id": order.order_id, "tx_hash": TX_A}
    vault = system_account(asset=customer_account.asset, system_code=Account.System.VAULT)
    assert {e.account_id: e.amount for e in txn.entries.all()} == {
        vault.pk: -2500,
        customer_account.pk: 2500,
    }
    customer_account.refresh_from_db()
    assert customer_account.balance == 2500
    event = Event.objects.get(type="order.completed")
    assert event.payload["transaction"] == txn.public_id
    assert event.payload["tx_hash"] == TX_A
    assert Event.objects.filter(type="transaction.posted").count() == 1


def test_tx_hash_is_lowercased_and_accepts_0x_uppercase(customer_account, make_order, staff):
    order = make_order(customer_account)
    done = services.complete_order(actor=staff, order_pk=order.pk, tx_hash="0X" + "AB" * 32)
    assert done.tx_hash == "0x" + "ab" * 32


@pytest.mark.parametrize("tx_hash", ["", "0x" + "a" * 63, "0x" + "g" * 64, "a" * 66])
def test_malformed_tx_hash_is_refused(customer_account, make_order, staff, tx_hash):
    order = make_order(customer_account)
    before = _books(customer_account)
    with pytest.raises(ValidationFailed) as exc:
        services.complete_order(actor=staff, order_pk=order.pk, tx_hash=tx_hash)
    assert "tx_hash" in exc.value.errors
    assert Order.objects.get(pk=order.pk).status == Status.PENDING
    assert _books(customer_account) == before


def test_one_tx_hash_cannot_complete_two_orders(customer_account, make_order, staff):
    first, second = make_order(customer_account), make_order(customer_account)
    services.complete_order(actor=staff, order_pk=first.pk, tx_hash=TX_A)
    before = _books(customer_account)
    with pytest.raises(ValidationFailed) as exc:
        services.complete_order(actor=staff, order_pk=second.pk, tx_hash=TX_A)
    assert exc.value.status == 422
    assert first.order_id in exc.value.errors["tx_hash"][0]
    assert Order.objects.get(pk=second.pk).status == Status.PENDING
    assert _books(customer_account) == before


def test_completion_of_a_frozen_account_is_refused_and_moves_nothing(
    customer_account, make_order, staff
):
    order = make_order(customer_account)
    Account.objects.filter(pk=customer_account.pk).update(status=Account.Status.FROZEN)
    before = _books(customer_account)
    with pytest.raises(AccountInactive):
        services.complete_order(actor=staff, order_pk=order.pk, tx_hash=TX_A)
    assert Order.objects.get(pk=order.pk).status == Status.PENDING
    assert _books(customer_account) == before


@pytest.mark.parametrize("target", [Status.FAILED, Status.CANCELLED, Status.EXPIRED])
def test_fail_cancel_and_expire_move_no_money(customer_account, make_order, staff, target):
    order = make_order(customer_account)
    transactions = Transaction.objects.count()
    _move(order, target, staff)
    customer_account.refresh_from_db()
    assert customer_account.balance == 0
    assert Transaction.objects.count() == transactions
    assert Order.objects.get(pk=order.pk).settlement is None


# --- expiry ----------------------------------------------------------------------------------


def test_expire_orders_expires_only_overdue_pending_orders(account_factory, customer, make_order):
    accounts = [account_factory(owner=customer, asset__code="USD") for _ in range(3)]
    overdue = [make_order(accounts[0]), make_order(accounts[1])]
    fresh = make_order(accounts[2])
    Order.objects.filter(pk__in=[o.pk for o in overdue]).update(expires_at=timezone.now())
    assert services.expire_orders() == 2
    assert services.expire_orders() == 0  # a second run is harmless
    assert set(Order.objects.filter(status=Status.EXPIRED).values_list("pk", flat=True)) == {
        o.pk for o in overdue
    }
    assert Order.objects.get(pk=fresh.pk).status == Status.PENDING
    assert Event.objects.filter(type="order.expired").count() == 2


def test_expire_orders_uses_the_given_instant(customer_account, make_order):
    order = make_order(customer_account)
    assert services.expire_orders(now=order.expires_at - timedelta(seconds=1)) == 0
    assert services.expire_orders(now=order.expires_at) == 1


def test_expired_orders_free_a_pending_slot(customer_account, make_order):
    make_order(customer_account)
    make_order(customer_account)
    Order.objects.update(expires_at=timezone.now())
    services.expire_orders()
    assert make_order(customer_account).status == Status.PENDING


def test_pending_gauge_follows_expiry(customer_account, make_order):
    from ledgerflow import metrics

    make_order(customer_account)
    make_order(customer_account)
    Order.objects.filter(sequence=1).update(expires_at=timezone.now())
    services.expire_orders()
    assert metrics.PENDING_ORDERS._value.get() == 1


def test_transition_metrics_count_after_commit(
    customer_account, make_order, staff, django_capture_on_commit_callbacks
):
    from ledgerflow import metrics

    counter = metrics.ORDERS.labels(status="completed")
    before = counter._value.get()
    order = make_order(customer_account)
    with django_capture_on_commit_callbacks(execute=True):
        services.complete_order(actor=staff, order_pk=order.pk, tx_hash=TX_A)
    assert counter._value.get() == before + 1


def test_amount_in_events_has_the_asset_decimals(customer_account, make_order):
    make_order(customer_account, Decimal("7"))
    assert Event.objects.get(type="order.created").payload["amount"] == "7.00"
