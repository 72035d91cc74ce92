"""Every read of webhooks, scoped by the caller: someone else's row is NotFound (404)."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Min, Q, QuerySet

from ledgerflow.ages import age_buckets
from ledgerflow.errors import NotFound
from ledgerflow.permissions import has_right
from webhooks.models import Delivery, Event, WebhookEndpoint

# Every event, whole (balances of every account), on GET /events and staff endpoints.
VIEW_EVENTS = "webhooks.view_event"


def endpoints_of(actor: Any) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(owner=actor)


def endpoint_for(actor: Any, public_id: str) -> WebhookEndpoint:
    """The caller's own endpoint (staff too: endpoints are personal), or NotFound."""
    endpoint = endpoints_of(actor).filter(public_id=public_id).first()
    if endpoint is None:
        raise NotFound(f"No webhook endpoint {public_id!r}.")
    return endpoint


def deliveries_of(endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    return Delivery.objects.filter(endpoint=endpoint).select_related("event", "endpoint")


def delivery_for(actor: Any, endpoint_public_id: str, delivery_public_id: str) -> Delivery:
    delivery = (
        deliveries_of(endpoint_for(actor, endpoint_public_id))
        .filter(public_id=delivery_public_id)
        .first()
    )
    if delivery is None:
        raise NotFound(f"No delivery {delivery_public_id!r}.")
    return delivery


def event_scope(actor: Any) -> int | None:
    """How events render for `actor` (Event.payload_for): whole for staff holding
    VIEW_EVENTS, else as built for the actor (an owner sees only its own balances)."""
    return None if has_right(actor, VIEW_EVENTS) else actor.pk


def events_for(actor: Any, *, event_type: str | None = None) -> QuerySet[Event]:
    """Events the caller may see: about accounts it owns; staff with VIEW_EVENTS: all."""
    if has_right(actor, VIEW_EVENTS):
        events = Event.objects.all()
    else:
        events = Event.objects.filter(visible_to=actor)
    if event_type:
        events = events.filter(type=event_type)
    return events


def failed_deliveries(
    *,
    endpoint: WebhookEndpoint | None = None,
    since: datetime | None = None,
    event_type: str | None = None,
) -> QuerySet[Delivery]:
    """Failed deliveries (retries exhausted) to active endpoints, oldest first, for operators.

    `since` keeps those whose last attempt (their last change) was at or after it. A disabled
    endpoint's deliveries are left out: a retry would fail again at once.
    """
    deliveries = Delivery.objects.filter(
        status=Delivery.Status.FAILED, endpoint__is_active=True
    ).select_related("event", "endpoint")
    if endpoint is not None:
        deliveries = deliveries.filter(endpoint=endpoint)
    if since is not None:
        deliveries = deliveries.filter(updated_at__gte=since)
    if event_type:
        deliveries = deliveries.filter(event__type=event_type)
    return deliveries.order_by("updated_at", "pk")


def delivery_backlog(
    *, now: datetime, bounds: Sequence[timedelta], overdue_after: timedelta
) -> dict:
    """The delivery backlog in one aggregate query, for the dashboard: `pending` and `failed`
    counts, `overdue` (pending and due more than `overdue_after` ago: the workers are behind
    or down), `oldest` (created_at of the oldest pending) and `ages` (pending deliveries
    counted by age, see ledgerflow.ages)."""
    pending = Q(status=Delivery.Status.PENDING)
    buckets = age_buckets("created_at", now, bounds)
    row = Delivery.objects.filter(
        status__in=[Delivery.Status.PENDING, Delivery.Status.FAILED]
    ).aggregate(
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        pending=Count("pk", filter=pending),
        overdue=Count("pk", filter=pending & Q(next_attempt_at__lt=now - overdue_after)),
        oldest=Min("created_at", filter=pending),
        **{name: Count("pk", filter=pending & condition) for name, condition in buckets.items()},
    )
    row["ages"] = [row.pop(name) for name in buckets]
    return row


def outbox_state(*, now: datetime, overdue_after: timedelta) -> dict:
    """The outbox at a metrics scrape, in one aggregate query: `pending`, `overdue` (pending
    and due more than `overdue_after` ago), `failed` and `oldest` (created_at of the oldest
    pending delivery)."""
    pending = Q(status=Delivery.Status.PENDING)
    return Delivery.objects.aggregate(
        pending=Count("pk", filter=pending),
        overdue=Count("pk", filter=pending & Q(next_attempt_at__lt=now - overdue_after)),
        failed=Count("pk", filter=Q(status=Delivery.Status.FAILED)),
        oldest=Min("created_at", filter=pending),
    )
