"""Row locks on orders: an order's row comes first of all (the order: ledgerflow/locks.py)."""

from datetime import datetime

from orders.models import Order


def lock_order(order_pk: int) -> Order | None:
    """The order, row-locked (waiting for a concurrent transition), or None if there is none."""
    return (
        Order.objects.select_for_update(of=("self",))
        .select_related("account", "asset")
        .filter(pk=order_pk)
        .first()
    )


def lock_expired_order(order_pk: int, now: datetime) -> Order | None:
    """The order if it is still pending and past `expires_at` and nobody holds its lock;
    otherwise None (completed, cancelled, expired or being worked on meanwhile).

    The conditions are on the locked row itself, not in a subquery: PostgreSQL re-checks a
    row's own conditions on its newest version after waiting for or taking the lock, but a
    subquery keeps the statement's snapshot, so a concurrent run's expiry would pass it.
    """
    return (
        Order.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("account", "asset")
        .filter(pk=order_pk, status=Order.Status.PENDING, expires_at__lte=now)
        .first()
    )
