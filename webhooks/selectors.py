"""Every read of webhooks, scoped by the caller: someone else's row is NotFound (404)."""

from typing import Any

from django.db.models import QuerySet

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
