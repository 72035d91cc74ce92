"""Every write to orders.

Lock order (ledgerflow/locks.py): the Order row first, then accounts. Creation locks only the
account row; transitions lock the order row and, when money moves, `post_settlement` then
locks the accounts. Each transition records its event in the same transaction and counts
the metric after commit.
"""

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.errors import AccountInactive
from accounts.locks import lock_accounts
from accounts.models import Account, User
from ledger.services import minor_amount, post_settlement
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention, violated_constraint
from ledgerflow.errors import InvalidState, NotFound, ValidationFailed
from ledgerflow.money import to_major
from orders.errors import TooManyPendingOrders
from orders.ids import normalize_order_id, order_id_for
from orders.locks import lock_expired_order, lock_order
from orders.models import Deposit, Order
from orders.representations import order_data
from orders.selectors import pending_order_count
from webhooks.services import record_event

TX_HASH = re.compile(r"0x[0-9a-f]{64}")
# The unique indexes that keep one payment to one order: Deposit.tx_hash (`unique=True`, named
# by PostgreSQL) and the orders' partial one (Meta). A test checks both names exist.
TX_HASH_UNIQUE = frozenset({"orders_deposit_tx_hash_key", "orders_order_tx_hash_unique"})


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
    """Mark an order paid and credit it from the vault, in one transaction.

    A pending order is credited its `amount`. An order in `needs_review` is credited what
    actually arrived (`received_amount`), and only with the tx_hash under review. A second
    completion (even racing) finds the order completed and is refused, so the account is
    credited exactly once. Raises NotFound, InvalidState, ValidationFailed (malformed
    tx_hash, or one that paid another order), AccountInactive.
    """
    tx_hash = _valid_tx_hash(tx_hash)
    order = _lock_order(
        order_pk, "completed", allowed=(Order.Status.PENDING, Order.Status.NEEDS_REVIEW)
    )
    if order.status == Order.Status.NEEDS_REVIEW:
        if tx_hash != order.tx_hash:
            message = (
                f"Order {order.order_id} is under review for {order.tx_hash}; complete it with "
                "that tx_hash (credits the amount received) or fail it."
            )
            raise ValidationFailed(message, {"tx_hash": [message]})
        amount = cast(int, order.received_amount)  # set whenever an order goes to review
    else:
        _ensure_tx_hash_free(tx_hash, order)
        amount = order.amount
    _settle(order, actor=actor, tx_hash=tx_hash, amount=amount)
    # A deposit the indexer reported with this hash (seen, or under review) is now settled.
    Deposit.objects.filter(tx_hash=tx_hash, order=order).update(
        status=Deposit.Status.SETTLED, updated_at=timezone.now()
    )
    return order


@retry_on_contention
@transaction.atomic
def record_deposit(
    *, actor: User | None, order_id: str, tx_hash: str, amount: Decimal, confirmations: int
) -> Deposit:
    """An indexer saw `amount` paid to the vault for `order_id` in `tx_hash`.

    Settles each tx_hash at most once, whatever the replays and races: the order's row lock
    serialises every report for one order, and the unique tx_hash (on deposits and on
    orders) refuses one payment for two orders. Below ORDER_MIN_CONFIRMATIONS the deposit is
    only recorded (`pending`); at or above it, the matching amount completes the order
    through the same settlement as `complete_order`, and a different amount sends the order
    to `needs_review` with both amounts. A replay answers the recorded deposit unchanged
    (its confirmations only ever grow). Raises NotFound (no such order), ValidationFailed
    (malformed or contradicting report, tx_hash paying another order, bad amount),
    InvalidState (the order is no longer waiting for a payment), AccountInactive.
    """
    tx_hash = _valid_tx_hash(tx_hash)
    normalized = normalize_order_id(order_id)
    pk = Order.objects.filter(order_id=normalized).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFound(f"No order {order_id!r}.", order_id=order_id)
    order = _lock_order(pk, "paid", check=False)  # every status: a replay answers as before
    minor = minor_amount(amount, order.asset)
    now = timezone.now()
    deposit = Deposit.objects.filter(tx_hash=tx_hash).first()
    if deposit is not None:
        if deposit.order_id != order.pk or deposit.amount != minor:
            message = (
                f"{tx_hash} was reported for order {deposit.order.order_id} paying "
                f"{to_major(deposit.amount, order.asset.exponent)} {order.asset.code}."
                if deposit.order_id == order.pk
                else f"{tx_hash} was reported for another order."
            )
            raise ValidationFailed(message, {"tx_hash": [message]})
        deposit.order = order  # the locked row, for the answer
        if confirmations > deposit.confirmations:
            deposit.confirmations, deposit.updated_at = confirmations, now
            deposit.save(update_fields=["confirmations", "updated_at"])
        if deposit.status != Deposit.Status.PENDING or not _confirmed(deposit):
            return deposit  # a replay, or still confirming
    else:
        if order.status == Order.Status.COMPLETED and order.tx_hash == tx_hash:
            # An operator completed it by hand with this payment: record it, settle nothing.
            credited = order.amount if order.received_amount is None else order.received_amount
            if minor != credited:
                message = (
                    f"{tx_hash} completed order {order.order_id} with "
                    f"{to_major(credited, order.asset.exponent)} {order.asset.code}."
                )
                raise ValidationFailed(message, {"amount": [message]})
            status = Deposit.Status.SETTLED
        else:
            if order.status != Order.Status.PENDING:  # paid, under review, or closed
                raise _not_waiting(order)
            _ensure_tx_hash_free(tx_hash, order)
            status = Deposit.Status.PENDING
        try:
            # Another order's report of this hash, racing: the unique index makes this wait
            # for it to commit, then fail; the whole transaction rolls back.
            deposit = Deposit.objects.create(
                tx_hash=tx_hash,
                order=order,
                amount=minor,
                confirmations=confirmations,
                status=status,
                reported_by=actor if actor and actor.is_authenticated else None,
                created_at=now,
                updated_at=now,
            )
        except IntegrityError as exc:
            if violated_constraint(exc) not in TX_HASH_UNIQUE:
                raise
            raise _tx_hash_used(tx_hash, "another order") from None
        if status == Deposit.Status.SETTLED or not _confirmed(deposit):
            return deposit
    if order.status != Order.Status.PENDING:  # since seen: paid by another hash, or closed
        raise _not_waiting(order)
    if deposit.amount == order.amount:
        _settle(order, actor=actor, tx_hash=tx_hash, amount=order.amount)
        deposit.status = Deposit.Status.SETTLED
    else:
        order.tx_hash, order.received_amount = tx_hash, deposit.amount
        _finish(order, Order.Status.NEEDS_REVIEW, extra_fields=["tx_hash", "received_amount"])
        deposit.status = Deposit.Status.NEEDS_REVIEW
    deposit.updated_at = timezone.now()
    deposit.save(update_fields=["status", "updated_at"])
    return deposit


def _confirmed(deposit: Deposit) -> bool:
    return deposit.confirmations >= settings.ORDER_MIN_CONFIRMATIONS


def _not_waiting(order: Order) -> InvalidState:
    paid = f" by {order.tx_hash}" if order.tx_hash else ""
    return InvalidState(
        f"Order {order.order_id} is {order.status}{paid}; it takes no other payment.",
        order_id=order.order_id,
    )


def _valid_tx_hash(tx_hash: str) -> str:
    tx_hash = tx_hash.strip().lower()
    if not TX_HASH.fullmatch(tx_hash):
        raise ValidationFailed(
            "tx_hash must be 0x followed by 64 hex digits.", {"tx_hash": ["Not a tx hash."]}
        )
    return tx_hash


def _ensure_tx_hash_free(tx_hash: str, order: Order) -> None:
    """One payment pays one order: refuse a hash another order holds or was reported for."""
    used_by = Order.objects.filter(tx_hash=tx_hash).exclude(pk=order.pk).first()
    if used_by is None:
        reported = Deposit.objects.filter(tx_hash=tx_hash).exclude(order=order).first()
        used_by = reported.order if reported else None
    if used_by is not None:
        raise _tx_hash_used(tx_hash, used_by.order_id)


def _settle(order: Order, *, actor: User | None, tx_hash: str, amount: int) -> None:
    """Post the settlement and mark the (locked) order completed: the one way money moves."""
    txn = post_settlement(
        actor=actor,
        account_id=order.account_id,
        amount_minor=amount,
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
        if violated_constraint(exc) not in TX_HASH_UNIQUE:
            raise
        raise _tx_hash_used(tx_hash, "another order") from None


@retry_on_contention
@transaction.atomic
def fail_order(*, actor: User | None, order_pk: int) -> Order:
    """Mark a pending order, or one under review, failed (the payment will not arrive, or an
    operator refuses the one that did). Moves no money."""
    order = _lock_order(
        order_pk, "failed", allowed=(Order.Status.PENDING, Order.Status.NEEDS_REVIEW)
    )
    _finish(order, Order.Status.FAILED)
    return order


@retry_on_contention
@transaction.atomic
def cancel_order(*, actor: User | None, order_pk: int) -> Order:
    """Cancel a pending order (its owner or an operator). Moves no money."""
    order = _lock_order(order_pk, "cancelled")
    _finish(order, Order.Status.CANCELLED)
    return order


def expire_orders(*, now: datetime | None = None) -> int:
    """Expire the pending orders whose `expires_at` has passed; returns how many.

    Each order is expired in its own short transaction under its row lock. A row another
    transaction holds (a completion in flight) is skipped, not waited for: if that
    completion rolls back, the next run expires the order. So an order ends completed with
    its money or expired without it, never both. An order whose payment the indexer reported
    but is still confirming is left pending. Safe to run twice or concurrently.
    """
    now = now or timezone.now()
    expired, last_pk = 0, 0
    while True:
        batch = list(
            _expirable(now).filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:500]
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
    order = lock_expired_order(order_pk, now)
    if order is None:  # completed, cancelled, expired or being worked on meanwhile
        return 0
    # A new statement, so it sees deposits committed before we took the lock.
    if Deposit.objects.filter(order_id=order.pk, status=Deposit.Status.PENDING).exists():
        return 0  # the indexer's confirming payment settles (or reviews) it
    _finish(order, Order.Status.EXPIRED)
    return 1


def _expirable(now: datetime):
    """Pending orders past `expires_at`, except those whose payment the indexer has seen and
    is still confirming: that payment settles them (or sends them to review) when it does."""
    confirming = Deposit.objects.filter(status=Deposit.Status.PENDING).values("order_id")
    return Order.objects.filter(status=Order.Status.PENDING, expires_at__lte=now).exclude(
        pk__in=confirming
    )


def _lock_order(
    order_pk: int,
    target: str,
    *,
    allowed: tuple[str, ...] = (Order.Status.PENDING,),
    check: bool = True,
) -> Order:
    """The order, row-locked; InvalidState unless its status is `allowed` (when `check`)."""
    order = lock_order(order_pk)
    if order is None:
        raise NotFound("No such order.")
    if check and order.status not in allowed:
        raise InvalidState(
            f"Order {order.order_id} is {order.status}; only "
            f"{' or '.join(s.replace('_', ' ') for s in allowed)} orders can be {target}.",
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
