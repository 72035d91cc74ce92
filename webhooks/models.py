"""The transactional outbox (events), webhook endpoints and their deliveries."""

import secrets
import uuid

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import Q
from django.utils import timezone

# Fields of a payload's entry that only the entry's account owner (and staff) may see.
PRIVATE_ENTRY_FIELDS = ("balance_after", "version")

# DESIGN §6: the event types a client may subscribe to.
EVENT_TYPES = (
    "account.created",
    "account.updated",
    "account.closed",
    "transaction.posted",
    "transaction.pending",
    "transaction.voided",
    "transaction.reversed",
    "order.created",
    "order.completed",
    "order.failed",
    "order.cancelled",
    "order.expired",
    "order.needs_review",
    "export.completed",
    "balance.threshold_crossed",
)


class Event(models.Model):
    """Something that happened, written in the same database transaction as the change.

    `visible_to` holds every owner of every account the event concerns; `account` and `owner`
    keep the first of them for display.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    type = models.CharField(max_length=64, db_index=True)
    payload = models.JSONField(encoder=DjangoJSONEncoder, help_text="The whole event, for staff.")
    owned_entries = models.JSONField(
        default=dict,
        blank=True,
        help_text="User id -> positions in the payload's `entries` of that user's accounts.",
    )
    account = models.ForeignKey(
        "accounts.Account", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    visible_to = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="+", blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    def payload_for(self, user_id: int | None) -> dict:
        """The data as one recipient sees it: `None` is a viewer of every event (staff).

        An entry's `balance_after` and `version` are private to its account's owner: a payee
        never learns the payer's balance. Built at read time from the positions stored at
        write time, so an event costs one payload however many owners it has.
        """
        entries = self.payload.get("entries") if isinstance(self.payload, dict) else None
        if user_id is None or not entries:
            return self.payload
        own = set(self.owned_entries.get(str(user_id), ()))
        return {
            **self.payload,
            "entries": [
                entry
                if position in own
                else {k: v for k, v in entry.items() if k not in PRIVATE_ENTRY_FIELDS}
                for position, entry in enumerate(entries)
            ],
        }


def _endpoint_public_id() -> str:
    return f"we_{secrets.token_hex(12)}"


def new_endpoint_secret() -> str:
    return f"whsec_{secrets.token_hex(32)}"


class WebhookEndpoint(models.Model):
    """A URL of `owner` that receives the events it subscribes to (`events` empty = all).

    `secret` signs every delivery; it is shown to the owner only on create and rotate.
    """

    public_id = models.CharField(max_length=40, unique=True, default=_endpoint_public_id)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=2048)
    events = models.JSONField(default=list, blank=True, help_text="Event types; empty = all.")
    secret = models.CharField(max_length=100, default=new_endpoint_secret)
    is_active = models.BooleanField(default=True)
    description = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} {self.url}"

    def subscribes_to(self, event_type: str) -> bool:
        return not self.events or event_type in self.events

    @property
    def secret_hint(self) -> str:
        return f"{self.secret[:10]}…{self.secret[-4:]}"


def _delivery_public_id() -> str:
    return f"dlv_{secrets.token_hex(12)}"


class Delivery(models.Model):
    """One event sent to one endpoint, and the state of its retries.

    A pending delivery is due at `next_attempt_at`; while a worker is sending it, that time is
    pushed past the request timeout (a lease), so the requeue safety net never double-sends.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    public_id = models.CharField(max_length=40, unique=True, default=_delivery_public_id)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_ms = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], name="webhooks_delivery_event_endpoint_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["endpoint", "created_at"]),
            # The requeue scan: only pending rows, by due time.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="webhooks_delivery_due_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.status})"
