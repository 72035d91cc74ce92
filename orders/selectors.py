"""Every read of orders, scoped by the caller: someone else's order is NotFound (404)."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q, QuerySet

from accounts.models import User
from accounts.permissions import VIEW_ORDERS
from ledgerflow import metrics
from ledgerflow.ages import age_buckets
from ledgerflow.errors import NotFound
from ledgerflow.permissions import has_right, refuse_if_visible
from orders.ids import normalize_order_id
from orders.models import Order


def _orders() -> QuerySet[Order]:
    return Order.objects.select_related("account", "asset", "settlement")


def orders_of(actor: User, *, status: str | None = None) -> QuerySet[Order]:
    """The caller's own orders (on accounts it owns), optionally in one status."""
    qs = _orders().filter(account__owner=actor)
    return qs.filter(status=status) if status else qs


def order_for(actor: User, order_id: str, *, right: str = VIEW_ORDERS) -> Order:
    """The caller's order, or any order when the caller holds `right`; by id with or without
    0x in any case; NotFound otherwise."""
    if has_right(actor, right):
        return _find(_orders(), order_id)
    try:
        return _find(orders_of(actor), order_id)
    except NotFound:
        normalized = normalize_order_id(order_id) or ""
        refuse_if_visible(actor, right, VIEW_ORDERS, Order.objects.filter(order_id=normalized))
        raise


def _find(qs: QuerySet[Order], order_id: str) -> Order:
    normalized = normalize_order_id(order_id)
    order = qs.filter(order_id=normalized).first() if normalized else None
    if order is None:
        raise NotFound(f"No order {order_id!r}.")
    return order


def order_queue(*, status: str = Order.Status.PENDING) -> QuerySet[Order]:
    """The operator queue: orders in `status`, oldest first. Refreshes the pending gauge."""
    pending_order_count()
    return (
        _orders()
        .select_related("account__owner")
        .filter(status=status)
        .order_by("created_at", "pk")
    )


def pending_order_count() -> int:
    """How many orders are pending; also sets the PENDING_ORDERS gauge."""
    count = Order.objects.filter(status=Order.Status.PENDING).count()
    metrics.PENDING_ORDERS.set(count)
    return count


def pending_order_ages(*, now: datetime, bounds: Sequence[timedelta]) -> dict:
    """The operator queue in one aggregate query, for the dashboard: `count` and `oldest`
    (created_at) of the pending orders, `ages` (their counts by age, see ledgerflow.ages)
    and `in_review` (orders in needs_review)."""
    pending = Q(status=Order.Status.PENDING)
    buckets = age_buckets("created_at", now, bounds)
    row = Order.objects.filter(
        status__in=[Order.Status.PENDING, Order.Status.NEEDS_REVIEW]
    ).aggregate(
        count=Count("pk", filter=pending),
        oldest=Min("created_at", filter=pending),
        in_review=Count("pk", filter=Q(status=Order.Status.NEEDS_REVIEW)),
        **{name: Count("pk", filter=pending & condition) for name, condition in buckets.items()},
    )
    row["ages"] = [row.pop(name) for name in buckets]
    return row
