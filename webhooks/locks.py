"""Row locks on deliveries: each is locked alone, in a transaction of its own, never with
money rows (the order of everything else: ledgerflow/locks.py)."""

from datetime import datetime

from django.db.models import QuerySet

from webhooks.models import Delivery


def claim_delivery(delivery_id: int) -> Delivery | None:
    """The delivery with its event and endpoint, locked, unless another worker holds it
    (None then, as when there is none): one sender per delivery at a time."""
    return (
        Delivery.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("event", "endpoint__owner")
        .filter(pk=delivery_id)
        .first()
    )


def lock_pending_delivery(delivery_id: int) -> Delivery | None:
    """The delivery, locked, if it is still pending (None if finished or deleted meanwhile)."""
    return (
        Delivery.objects.select_for_update()
        .filter(pk=delivery_id, status=Delivery.Status.PENDING)
        .first()
    )


def lock_delivery(delivery_id: int) -> Delivery:
    """The delivery with its event and endpoint, locked. Raises Delivery.DoesNotExist."""
    return (
        Delivery.objects.select_for_update().select_related("event", "endpoint").get(pk=delivery_id)
    )


def overdue_deliveries(before: datetime) -> QuerySet[Delivery]:
    """Pending deliveries due before `before`, oldest first, locked as they are read and
    skipping any a worker holds (it is sending them)."""
    return (
        Delivery.objects.select_for_update(skip_locked=True)
        .filter(status=Delivery.Status.PENDING, next_attempt_at__lt=before)
        .order_by("next_attempt_at")
    )
