"""Every write to orders.

Lock order (accounts/locks.py): the Order row first, then accounts. Creation locks only the
account row; transitions lock the order row and, when money moves, `post_settlement` then
locks the accounts. Each transition records its event in the same transaction and counts
the metric after commit.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.errors import AccountInactive
from accounts.locks import lock_accounts
from accounts.models import Account, User
from ledger.services import minor_amount, post_settlement
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import InvalidState, NotFound, ValidationFailed
from orders.errors import TooManyPendingOrders
from orders.ids import order_id_for
from orders.models import Order
from orders.representations import order_data
from orders.selectors import pending_order_count
from webhooks.services import record_event

TX_HASH = re.compile(r"0x[0-9a-f]{64}")


@retry_on_contention
@transaction.atomic
def create_order(*, actor: User | None, account_id: int, amount: Decimal) -> Order:
    """Open a pending order crediting a customer account.

    The pending limit and the sequence number are decided under the account's row lock, so
    concurrent creations cannot exceed MAX_PENDING_ORDERS or share a sequence (hence an id).
    Raises NotFound, ValidationFailed, AccountInactive, TooManyPendingOrders.
    """
    account = lock_accounts([account_id]).get(account_id)
    if account is None:
        raise NotFound("No such account.")
    if account.owner_id is None or account.system_code:
        raise ValidationFailed(
            "Orders credit customer accounts only.", {"account": ["Not a customer account."]}
        )
    if account.status != Account.Status.ACTIVE:
        raise AccountInactive(
            f"Account {account.public_id} is {account.status}.", account=account.public_id
        )
    minor = minor_amount(amount, account.asset)
    orders = Order.objects.filter(account=account)
    pending = orders.filter(status=Order.Status.PENDING).count()
    if pending >= settings.MAX_PENDING_ORDERS:
        raise TooManyPendingOrders(
            f"Account {account.public_id} already has {pending} pending orders "
            f"(at most {settings.MAX_PENDING_ORDERS}).",
            account=account.public_id,
        )
    # Orders are never deleted, so max + 1 never repeats; the unique constraint backs it up.
    sequence = (orders.aggregate(last=Max("sequence"))["last"] or 0) + 1
    now = timezone.now()
    order = Order.objects.create(
        order_id=order_id_for(
            broker_id=settings.BROKER_ID, account_id=account.public_id, sequence=sequence
        ),
        account=account,
        asset=account.asset,
        amount=minor,
        broker_id=settings.BROKER_ID,
        sequence=sequence,
        vault_address=settings.VAULT_ADDRESS,
        expires_at=now + timedelta(seconds=settings.ORDER_TTL),
        created_at=now,
        updated_at=now,
    )
    record_event("order.created", order_data(order), accounts=[account])
    _count_on_commit(Order.Status.PENDING)
    return order


@retry_on_contention
@transaction.atomic
def complete_order(*, actor: User | None, order_pk: int, tx_hash: str) -> Order:
    """Mark a pending order paid and credit its amount from the vault, in one transaction.

    A second completion (even racing) finds the order completed and is refused, so the
    account is credited exactly once. Raises NotFound, InvalidState, ValidationFailed
    (malformed tx_hash, or one that already completed another order), AccountInactive.
    """
    tx_hash = tx_hash.strip().lower()
    if not TX_HASH.fullmatch(tx_hash):
        raise ValidationFailed(
            "tx_hash must be 0x followed by 64 hex digits.", {"tx_hash": ["Not a tx hash."]}
        )
    order = _lock_pending(order_pk, "completed")
    used_by = Order.objects.filter(tx_hash=tx_hash).exclude(pk=order.pk).first()
    if used_by is not None:
        raise _tx_hash_used(tx_hash, used_by.order_id)
    txn = post_settlement(
        actor=actor,
        account_id=order.account_id,
        amount_minor=order.amount,
        reference=order.order_id,
        metadata={"order_id": order.order_id, "tx_hash": tx_hash},
    )
    order.tx_hash, order.settlement, order.completed_at = tx_hash, txn, timezone.now()
    try:
        # Two orders racing with one tx_hash: the unique index makes the later one wait for
        # the first to commit, then fail here; the whole transaction (money too) rolls back.
        _finish(
            order, Order.Status.COMPLETED, extra_fields=["tx_hash", "settlement", "completed_at"]
        )
    except IntegrityError as exc:
        if "tx_hash" not in str(exc):
            raise
        raise _tx_hash_used(tx_hash, "another order") from None
    return order


@retry_on_contention
@transaction.atomic
def fail_order(*, actor: User | None, order_pk: int) -> Order:
    """Mark a pending order failed (the payment will not arrive). Moves no money."""
    order = _lock_pending(order_pk, "failed")
    _finish(order, Order.Status.FAILED)
    return order


@retry_on_contention
@transaction.atomic
def cancel_order(*, actor: User | None, order_pk: int) -> Order:
    """Cancel a pending order (its owner or an operator). Moves no money."""
    order = _lock_pending(order_pk, "cancelled")
    _finish(order, Order.Status.CANCELLED)
    return order


def expire_orders(*, now: datetime | None = None) -> int:
    """Expire the pending orders whose `expires_at` has passed; returns how many.

    Each order is expired in its own short transaction under its row lock. A row another
    transaction holds (a completion in flight) is skipped, not waited for: if that
    completion rolls back, the next run expires the order. So an order ends completed with
    its money or expired without it, never both. Safe to run twice or concurrently.
    """
    now = now or timezone.now()
    expired, last_pk = 0, 0
    while True:
        batch = list(
            Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=now, pk__gt=last_pk)
            .order_by("pk")
            .values_list("pk", flat=True)[:500]
        )
        if not batch:
            break
        expired += sum(_expire_one(order_pk=pk, now=now) for pk in batch)
        last_pk = batch[-1]
    pending_order_count()  # refreshes the gauge
    return expired


@retry_on_contention
@transaction.atomic
def _expire_one(*, order_pk: int, now: datetime) -> int:
    order = (
        Order.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("account", "asset")
        .filter(pk=order_pk, status=Order.Status.PENDING, expires_at__lte=now)
        .first()
    )
    if order is None:  # completed, cancelled or being worked on meanwhile
        return 0
    _finish(order, Order.Status.EXPIRED)
    return 1


def _lock_pending(order_pk: int, target: str) -> Order:
    order = (
        Order.objects.select_for_update(of=("self",))
        .select_related("account", "asset")
        .filter(pk=order_pk)
        .first()
    )
    if order is None:
        raise NotFound("No such order.")
    if order.status != Order.Status.PENDING:
        raise InvalidState(
            f"Order {order.order_id} is {order.status}; only a pending order can be {target}.",
            order_id=order.order_id,
        )
    return order


def _finish(order: Order, status: str, *, extra_fields: tuple | list = ()) -> None:
    """Write the new status, its event and (after commit) its metric."""
    order.status, order.updated_at = status, timezone.now()
    order.save(update_fields=["status", "updated_at", *extra_fields])
    record_event(f"order.{status}", order_data(order), accounts=[order.account])
    _count_on_commit(status)


def _tx_hash_used(tx_hash: str, order_id: str) -> ValidationFailed:
    message = f"{tx_hash} already completed {order_id}."
    return ValidationFailed(message, {"tx_hash": [message]})


def _count_on_commit(status: str) -> None:
    transaction.on_commit(lambda: metrics.ORDERS.labels(status=status).inc())
