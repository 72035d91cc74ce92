"""Webhooks: the outbox (`record_event`), endpoint management and at-least-once delivery.

`record_event` is the one call other apps make, inside their atomic block: the event, who may
see it and its deliveries commit with the change, and the delivery tasks are enqueued only after
that commit. Retry state lives in `Delivery` rows, so a lost broker message only delays a
delivery: `requeue_deliveries` (beat) re-enqueues anything overdue.
"""

import json
import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q
from django.utils import timezone

from ledgerflow import metrics
from ledgerflow.errors import InvalidState
from ledgerflow.permissions import has_right
from ledgerflow.writes import WriteBatch
from webhooks import tasks
from webhooks.errors import EndpointLimitReached
from webhooks.locks import claim_delivery, lock_delivery, lock_pending_delivery, overdue_deliveries
from webhooks.models import EVENT_TYPES, Delivery, Event, WebhookEndpoint, new_endpoint_secret
from webhooks.representations import event_data
from webhooks.selectors import VIEW_EVENTS
from webhooks.transport import Outcome, ensure_deliverable_url, post_signed

logger = logging.getLogger("ledgerflow.webhooks")

MAX_ENDPOINTS_PER_OWNER = 16
# Added to the HTTP timeouts to form the lease a worker holds while it sends.
LEASE_MARGIN = timedelta(seconds=5)
# How long past due a pending delivery may sit before we assume its message was lost. With the
# 18 s lease and the 10 s beat period (migration 0005) a delivery cut off by a killed worker is
# sent again within 18 + 15 + 10 s (tests/faults/test_worker_faults.py); a shorter grace only
# adds duplicate messages (no-ops: the claim skips them) while a queue is backed up.
REQUEUE_GRACE = timedelta(seconds=15)
REQUEUE_BATCH = 1000


# --- the outbox ---------------------------------------------------------------------------


def record_event(
    event_type: str,
    data: dict[str, Any],
    *,
    accounts: Sequence[Any] = (),
    owned_entries: dict[int, list[int]] | None = None,
) -> Event:
    """Write an Event and its Deliveries in the caller's transaction; enqueue them on commit.

    `accounts` are the ledger accounts the event concerns: every owner among them may see it
    and receives it on their subscribed endpoints; endpoints of staff holding VIEW_EVENTS
    receive every event. `data` is the whole event (what those staff see); where it lists
    `entries`, `owned_entries` maps an owner's user id to the positions of its own, the only
    ones whose balances it is shown (Event.payload_for). A rolled-back change leaves no
    event, no delivery and no message.
    """
    return record_events([(event_type, data, accounts, owned_entries or {})])[0]


@dataclass(frozen=True)
class Subscribers:
    """Active endpoints by owner, and those of staff holding VIEW_EVENTS (they get every event).

    Callers may load this once and reuse it (ledger.config caches it per configuration
    version) and pass it to `record_events`, so a money movement reads no endpoint at all.
    """

    by_owner: dict[int, list[WebhookEndpoint]] = field(default_factory=dict)
    sees_all: tuple[WebhookEndpoint, ...] = ()

    def for_event(self, owner_ids: Iterable[int], event_type: str) -> list[WebhookEndpoint]:
        chosen = {e.pk: e for owner in owner_ids for e in self.by_owner.get(owner, ())}
        chosen.update((e.pk, e) for e in self.sees_all)
        return [e for _, e in sorted(chosen.items()) if e.subscribes_to(event_type)]


def load_subscribers(owner_ids: Iterable[int] | None = None) -> Subscribers:
    """Every active endpoint of an active owner (or only those of `owner_ids`, plus the
    sees-all ones), in one query."""
    endpoints = WebhookEndpoint.objects.filter(is_active=True, owner__is_active=True).annotate(
        sees_all=ExpressionWrapper(_sees_all_events(), output_field=BooleanField())
    )
    if owner_ids is not None:
        endpoints = endpoints.filter(Q(owner_id__in=set(owner_ids)) | Q(sees_all=True))
    by_owner: dict[int, list[WebhookEndpoint]] = {}
    sees_all = []
    for endpoint in endpoints.select_related("owner").order_by("pk"):
        if endpoint.sees_all:
            sees_all.append(endpoint)
        else:
            by_owner.setdefault(endpoint.owner_id, []).append(endpoint)
    return Subscribers(by_owner=by_owner, sees_all=tuple(sees_all))


def _sees_all_events() -> Q:
    """The endpoint's owner is staff holding VIEW_EVENTS: directly, by group or as superuser."""
    app_label, codename = VIEW_EVENTS.split(".")
    perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename)
    granted = (
        Q(owner__is_superuser=True)
        | Exists(perm.filter(user=OuterRef("owner_id")))
        | Exists(perm.filter(group__user=OuterRef("owner_id")))
    )
    return Q(owner__is_staff=True) & granted


def record_events(
    items: Sequence[tuple[str, dict[str, Any], Sequence[Any], dict[int, list[int]]]],
    *,
    subscribers: Subscribers | None = None,
    batch: WriteBatch | None = None,
) -> list[Event]:
    """`record_event` for many events at once (a batch of transfers): a fixed number of bulk
    statements whatever the number of events. Items are (type, data, accounts, owned_entries) as in
    `record_event`. `subscribers` may come from a cache (`load_subscribers()`). With `batch`
    the rows join the caller's write batch (ledgerflow.writes), sent when it flushes."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change")
    events, audiences = [], []
    for event_type, data, accounts, owned_entries in items:
        if event_type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {event_type!r}")
        owner_ids = list(dict.fromkeys(a.owner_id for a in accounts if a.owner_id))
        events.append(
            Event(
                type=event_type,
                payload=data,
                owned_entries={str(owner): rows for owner, rows in owned_entries.items()},
                account_id=accounts[0].pk if accounts else None,
                owner_id=owner_ids[0] if owner_ids else None,
            )
        )
        audiences.append(owner_ids)
    if subscribers is None:
        subscribers = load_subscribers(o for owner_ids in audiences for o in owner_ids)
    deliveries = [
        Delivery(event=event, endpoint=endpoint, next_attempt_at=event.created_at)
        for event, owner_ids in zip(events, audiences, strict=True)
        for endpoint in subscribers.for_event(owner_ids, event.type)
    ]
    own = batch is None
    batch = batch or WriteBatch()
    Audience = Event.visible_to.through
    batch.insert(Event, events)  # ids are UUIDs made here: children need no RETURNING
    batch.insert(
        Audience,
        [
            Audience(event_id=event.pk, user_id=owner_id)
            for event, owner_ids in zip(events, audiences, strict=True)
            for owner_id in owner_ids
        ],
    )
    if deliveries:
        batch.insert(Delivery, deliveries, returning=True)
        batch.after_flush.append(lambda: _enqueue_on_commit(d.pk for d in deliveries))
    if own:
        batch.flush()
    return events


def _enqueue_on_commit(delivery_ids: Iterable[int], countdown: float = 0) -> None:
    ids = list(delivery_ids)

    def enqueue() -> None:
        for delivery_id in ids:
            tasks.deliver_webhook.apply_async((delivery_id,), countdown=countdown)

    # robust: a broker outage must not turn a committed movement into a 500; the rows stay
    # pending and requeue_deliveries sends them later.
    transaction.on_commit(enqueue, robust=True)


# --- endpoints ----------------------------------------------------------------------------


def _event_types(events: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(events))


def create_endpoint(
    *,
    actor: Any,
    url: str,
    events: Sequence[str] = (),
    description: str = "",
    is_active: bool = True,
) -> WebhookEndpoint:
    """Register a URL of `actor`. Raises EndpointUrlRefused (422 on `url`), EndpointLimitReached."""
    ensure_deliverable_url(url)  # DNS lookup: before any transaction
    if WebhookEndpoint.objects.filter(owner=actor).count() >= MAX_ENDPOINTS_PER_OWNER:
        raise EndpointLimitReached(f"At most {MAX_ENDPOINTS_PER_OWNER} webhook endpoints.")
    return WebhookEndpoint.objects.create(
        owner=actor,
        url=url,
        events=_event_types(events),
        description=description,
        is_active=is_active,
    )


def update_endpoint(
    *,
    actor: Any,
    endpoint: WebhookEndpoint,
    url: str | None = None,
    events: Sequence[str] | None = None,
    description: str | None = None,
    is_active: bool | None = None,
) -> WebhookEndpoint:
    """Change the given fields (None = keep). Raises EndpointUrlRefused for a new URL."""
    if url is not None:
        ensure_deliverable_url(url)
        endpoint.url = url
    if events is not None:
        endpoint.events = _event_types(events)
    if description is not None:
        endpoint.description = description
    if is_active is not None:
        endpoint.is_active = is_active
    endpoint.save(update_fields=["url", "events", "description", "is_active"])
    return endpoint


def delete_endpoint(*, actor: Any, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log; queued tasks for it find nothing to send."""
    logger.info("webhook endpoint %s deleted by user %s", endpoint.public_id, actor.pk)
    endpoint.delete()


def rotate_endpoint_secret(*, actor: Any, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """A new signing secret, used from the next attempt on (also for pending retries)."""
    endpoint.secret = new_endpoint_secret()
    endpoint.save(update_fields=["secret"])
    logger.info("webhook secret of %s rotated by user %s", endpoint.public_id, actor.pk)
    return endpoint


# --- delivery -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery leased to this worker, with everything needed to send it."""

    delivery_id: int
    url: str
    secret: str
    event_id: str
    event_created_at: datetime
    body: bytes


def backoff_seconds(attempts: int) -> float:
    """Delay after the `attempts`-th failure: base * 2^(attempts-1), ±20 % jitter, capped."""
    delay = settings.WEBHOOK_BACKOFF_BASE * 2 ** (attempts - 1)
    jitter = random.uniform(0.8, 1.2)  # noqa: S311 - spreads retries, not a secret  # nosec B311
    return min(settings.WEBHOOK_BACKOFF_CAP, delay * jitter)  # seconds: durations, never money


def lease_duration() -> timedelta:
    timeouts = settings.WEBHOOK_TIMEOUT_CONNECT + settings.WEBHOOK_TIMEOUT_READ
    return timedelta(seconds=timeouts) + LEASE_MARGIN


def attempt_delivery(*, delivery_id: int) -> str | None:
    """Send one due pending delivery once. At-least-once; safe to run twice.

    A delivery that is locked, leased, not yet due or no longer pending is skipped (returns
    None). Otherwise returns the resulting status: succeeded, pending (retry scheduled) or failed.
    """
    claim = _claim(delivery_id)
    if claim is None:
        return None
    outcome = post_signed(
        url=claim.url, secret=claim.secret, event_id=claim.event_id, body=claim.body
    )
    return _finish(claim, outcome)


def _claim(delivery_id: int) -> Claim | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = claim_delivery(delivery_id)
        if delivery is None or delivery.status != Delivery.Status.PENDING:
            return None
        if delivery.next_attempt_at and delivery.next_attempt_at > now:
            return None  # leased by another worker, or a retry that is not due yet
        if not delivery.endpoint.is_active:
            delivery.status = Delivery.Status.FAILED
            delivery.last_error = "endpoint is disabled"
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at", "updated_at"])
            _count_on_commit("failed")
            return None
        # The lease: requeue_deliveries leaves it alone until the attempt must have ended.
        delivery.next_attempt_at = now + lease_duration()
        delivery.save(update_fields=["next_attempt_at", "updated_at"])
    event = delivery.event
    owner = delivery.endpoint.owner
    shown_to = None if has_right(owner, VIEW_EVENTS) else owner.pk  # built per recipient
    body = json.dumps(
        event_data(event, shown_to), separators=(",", ":"), ensure_ascii=False
    ).encode()
    return Claim(
        delivery_id=delivery.pk,
        url=delivery.endpoint.url,
        secret=delivery.endpoint.secret,
        event_id=str(event.id),
        event_created_at=event.created_at,
        body=body,
    )


def _finish(claim: Claim, outcome: Outcome) -> str | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = lock_pending_delivery(claim.delivery_id)
        if delivery is None:
            return None  # deleted with its endpoint while we were sending
        delivery.attempts += 1
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        delivery.response_ms = outcome.response_ms
        if outcome.ok:
            delivery.status = Delivery.Status.SUCCEEDED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            lag = (now - claim.event_created_at).total_seconds()
            transaction.on_commit(lambda: metrics.WEBHOOK_DELIVERY_LAG.observe(lag))
            _count_on_commit("succeeded")
        elif delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
            delivery.status = Delivery.Status.FAILED
            delivery.next_attempt_at = None
            _count_on_commit("failed")
        else:
            delay = backoff_seconds(delivery.attempts)
            delivery.next_attempt_at = now + timedelta(seconds=delay)
            _enqueue_on_commit([delivery.pk], countdown=delay)
            _count_on_commit("retrying")
        delivery.save()
    return delivery.status


def _count_on_commit(outcome: str) -> None:
    transaction.on_commit(lambda: metrics.WEBHOOK_DELIVERIES.labels(outcome=outcome).inc())


@transaction.atomic
def retry_delivery(*, actor: Any, delivery_id: int) -> Delivery:
    """Make a failed delivery pending again (attempts kept) and enqueue it. Raises InvalidState."""
    delivery = lock_delivery(delivery_id)
    if delivery.status != Delivery.Status.FAILED:
        raise InvalidState(f"Delivery {delivery.public_id} is {delivery.status}, not failed.")
    delivery.status = Delivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at", "updated_at"])
    by = f"user {actor.pk}" if actor is not None else "the console"
    logger.info("webhook delivery %s retried by %s", delivery.public_id, by)
    _enqueue_on_commit([delivery.pk])
    return delivery


@dataclass(frozen=True)
class Retried:
    """What `retry_deliveries` did: public ids queued again, and those no longer failed."""

    retried: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def retry_deliveries(
    *,
    actor: Any | None,
    delivery_ids: Sequence[int],
    progress: Callable[[int, int | None], None] | None = None,
) -> Retried:
    """`retry_delivery` for each (one short transaction each, enqueued as it commits).

    `actor` None is an operator at the console. A delivery that is no longer failed (a
    concurrent retry got there first, or it was deleted with its endpoint) is skipped, not
    an error. `progress(done, total)` is called after each.
    """
    result = Retried()
    for done, delivery_id in enumerate(delivery_ids, start=1):
        try:
            delivery = retry_delivery(actor=actor, delivery_id=delivery_id)
        except (InvalidState, Delivery.DoesNotExist):
            public_id = Delivery.objects.filter(pk=delivery_id).values_list("public_id", flat=True)
            result.skipped.append(public_id.first() or str(delivery_id))
        else:
            result.retried.append(delivery.public_id)
        if progress:
            progress(done, len(delivery_ids))
    return result


@transaction.atomic
def requeue_deliveries(*, grace: timedelta = REQUEUE_GRACE) -> int:
    """Re-enqueue pending deliveries overdue by more than `grace` (their message was lost).

    Each gets `next_attempt_at = now`, so it is re-enqueued at most once per grace period
    while its new message waits in the queue. Returns how many were re-enqueued.
    """
    now = timezone.now()
    overdue = overdue_deliveries(now - grace).values_list("pk", flat=True)
    ids = list(overdue[:REQUEUE_BATCH])
    if ids:
        Delivery.objects.filter(pk__in=ids).update(next_attempt_at=now, updated_at=now)
        _enqueue_on_commit(ids)
        transaction.on_commit(lambda: metrics.WEBHOOK_REQUEUED.inc(len(ids)))
        logger.warning("re-enqueued %d overdue webhook deliveries", len(ids))
    return len(ids)
