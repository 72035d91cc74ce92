"""The webhooks LedgerFlow sends, for the OpenAPI 3.1 `webhooks` section (SPECTACULAR_SETTINGS).

One entry per event type in `webhooks.models.EVENT_TYPES`: the POST body is the event, exactly
as `GET /api/v1/events` lists it (`{id, type, created_at, data}`), and `data` is the resource
the event is about, in the shape the API answers for it. Read by drf-spectacular through the
import paths in WEBHOOKS below, so nothing here is imported until the schema is generated.
"""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

from accounts.apis import EXAMPLE_ACCOUNT
from accounts.models import Account
from ledger.apis import EXAMPLE_TRANSACTION
from ledger.reporting_apis import EXAMPLE_EXPORT
from ledger.reporting_serializers import ExportSerializer
from ledger.serializers import TransactionSerializer
from orders.apis import EXAMPLE_ORDER
from orders.serializers import OrderSerializer
from webhooks.models import EVENT_TYPES

DELIVERY_NOTE = (
    "Sent as an HTTP POST with `Content-Type: application/json` and the headers "
    "`LedgerFlow-Event-Id` (the event's `id`) and `LedgerFlow-Signature: t=<unix seconds>,"
    'v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint\'s secret>`. Verify the '
    "signature over the raw body and reject old timestamps. Any 2xx answer acknowledges it; "
    "anything else, or no answer within the timeout, is retried with exponential backoff "
    "(1 s, 2 s, 4 s ... capped), so deliveries are at-least-once: deduplicate by `id`. "
    "`balance_after` and `version` of entries appear only on entries of your own accounts."
)


class AccountEventDataSerializer(serializers.Serializer):
    """The account an `account.*` event is about."""

    id = serializers.CharField()
    owner = serializers.IntegerField(allow_null=True, help_text="The owner's user id.")
    name = serializers.CharField(allow_blank=True)
    asset = serializers.CharField()
    status = serializers.ChoiceField(choices=Account.Status.choices)
    metadata = serializers.DictField(
        required=False, help_text="`account.updated` only: the metadata after the change."
    )
    changed = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="`account.updated` only: the fields that changed.",
    )


class BalanceThresholdCrossedSerializer(serializers.Serializer):
    """A balance monitor's threshold crossed by a movement."""

    account = serializers.CharField()
    asset = serializers.CharField()
    direction = serializers.ChoiceField(choices=["below", "above"])
    threshold = serializers.CharField(help_text="Major units, with the asset's decimals.")
    balance_before = serializers.CharField()
    balance_after = serializers.CharField()


# Event type prefix -> (the serializer of `data`, what the resource is, an example of it).
DATA_BY_FAMILY = {
    "account": (
        AccountEventDataSerializer,
        "the account",
        {key: EXAMPLE_ACCOUNT[key] for key in ("id", "owner", "name", "asset", "status")},
    ),
    "transaction": (
        TransactionSerializer,
        "the transaction with its entries",
        EXAMPLE_TRANSACTION,
    ),
    "order": (OrderSerializer, "the payment order", EXAMPLE_ORDER),
    "export": (ExportSerializer, "the export", {**EXAMPLE_EXPORT, "download_url": None}),
    "balance": (
        BalanceThresholdCrossedSerializer,
        "the crossing",
        {
            "account": EXAMPLE_ACCOUNT["id"],
            "asset": "USD",
            "direction": "below",
            "threshold": "100.00",
            "balance_before": "112.50",
            "balance_after": "87.50",
        },
    ),
}
SUMMARIES = {
    "account.created": "An account was opened",
    "account.updated": "An account's name or metadata changed",
    "account.closed": "An account was closed",
    "transaction.posted": "Money moved: a transaction was posted",
    "transaction.pending": "Funds are held by a pending transfer",
    "transaction.voided": "A pending transfer was voided; its hold released",
    "transaction.reversed": "A posted transaction was reversed",
    "order.created": "A payment order was opened",
    "order.completed": "A payment order was paid and settled into the ledger",
    "order.failed": "A payment order failed",
    "order.cancelled": "A payment order was cancelled",
    "order.expired": "A payment order expired unpaid",
    "order.needs_review": "A payment arrived with a different amount; operators review it",
    "export.completed": "An export finished",
    "balance.threshold_crossed": "A balance crossed a monitor's threshold",
}


def _component_name(event_type: str) -> str:
    """`transaction.posted` -> `TransactionPostedEvent`."""
    words = event_type.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def event_serializer(event_type: str) -> type[serializers.Serializer]:
    family = event_type.partition(".")[0]
    data_serializer, _, _ = DATA_BY_FAMILY[family]
    return type(
        _component_name(event_type),
        (serializers.Serializer,),
        {
            "__doc__": f"The body of a `{event_type}` webhook.",
            "id": serializers.UUIDField(help_text="The event id; deduplicate by it."),
            "type": serializers.ChoiceField(choices=[event_type]),
            "created_at": serializers.DateTimeField(),
            "data": data_serializer(),
        },
    )


def _webhook(event_type: str) -> OpenApiWebhook:
    _, what, example = DATA_BY_FAMILY[event_type.partition(".")[0]]
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=SUMMARIES.get(event_type, f"`{event_type}`"),
            description=f"`data` is {what}. {DELIVERY_NOTE}",
            request=event_serializer(event_type),
            responses={
                "2XX": OpenApiResponse(description="Received; the delivery is done."),
                "default": OpenApiResponse(description="Not received: retried later."),
            },
            examples=[
                # Neither request- nor response-only: drf-spectacular reads a webhook's body
                # from the receiver's side.
                OpenApiExample(
                    event_type,
                    value={
                        "id": "8c4f5a2e-1d3b-4c6a-9e7f-0b1a2c3d4e5f",
                        "type": event_type,
                        "created_at": "2026-01-05T10:00:00Z",
                        "data": example,
                    },
                )
            ],
        ),
    )


# SPECTACULAR_SETTINGS["WEBHOOKS"] names this list by its import path: a new event type in
# EVENT_TYPES is documented without touching settings.
WEBHOOKS = [_webhook(event_type) for event_type in EVENT_TYPES]
