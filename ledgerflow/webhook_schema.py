"""The webhooks LedgerFlow sends, for the OpenAPI 3.1 `webhooks` section (SPECTACULAR_SETTINGS).

One entry per event type in `webhooks.models.EVENT_TYPES`: the POST body is the event, exactly
as `GET /api/v1/events` lists it (`{id, type, created_at, data}`), and `data` is the resource
the event is about, in the shape the API answers for it. Read by drf-spectacular through the
import path of WEBHOOKS below, built when the schema is generated.

The apps register their parts in AppConfig.ready() (this package imports no app): webhooks
the event types, and each app the family of events about its resource (`account.*`,
`transaction.*`, `balance.*`, `order.*`, `export.*`) with the serializer and example of `data`.
"""

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.exceptions import AppRegistryNotReady, ImproperlyConfigured
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, OpenApiWebhook, extend_schema
from rest_framework import serializers

DELIVERY_NOTE = (
    "Sent as an HTTP POST with `Content-Type: application/json` and the headers "
    "`LedgerFlow-Event-Id` (the event's `id`) and `LedgerFlow-Signature: t=<unix seconds>,"
    'v1=<hex HMAC-SHA256 of "<t>.<raw body>" keyed with the endpoint\'s secret>`. Verify the '
    "signature over the raw body and reject old timestamps. Any 2xx answer acknowledges it; "
    "anything else, or no answer within the timeout, is retried with exponential backoff "
    "(1 s, 2 s, 4 s ... capped), so deliveries are at-least-once: deduplicate by `id`. "
    "`balance_after` and `version` of entries appear only on entries of your own accounts."
)


@dataclass(frozen=True)
class EventFamily:
    """The `data` of every `<prefix>.*` event: its serializer, what it is, an example."""

    serializer: type[serializers.Serializer]
    what: str  # "`data` is <what>."
    example: dict[str, Any]
    summaries: dict[str, str]  # event type -> one line


# Registered by the apps in their AppConfig.ready() (this package imports no app): the event
# types, in order, by webhooks (webhooks.models.EVENT_TYPES), and each family by the app whose
# resource it is (accounts, ledger, orders, reporting).
_event_types: list[str] = []
_families: dict[str, EventFamily] = {}


def register_event_types(event_types: Iterable[str]) -> None:
    _event_types[:] = event_types


def register_event_family(
    prefix: str,
    serializer: type[serializers.Serializer],
    what: str,
    example: dict[str, Any],
    summaries: dict[str, str],
) -> None:
    _families[prefix] = EventFamily(serializer, what, example, summaries)


def _family(event_type: str) -> EventFamily:
    family = event_type.partition(".")[0]
    try:
        return _families[family]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered the webhook event family {family!r} (register_event_family)."
        ) from None


def _component_name(event_type: str) -> str:
    """`transaction.posted` -> `TransactionPostedEvent`."""
    words = event_type.replace(".", "_").split("_")
    return "".join(word.capitalize() for word in words) + "Event"


def event_serializer(event_type: str) -> type[serializers.Serializer]:
    data_serializer = _family(event_type).serializer
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
    family = _family(event_type)
    what, example = family.what, family.example
    return OpenApiWebhook(
        name=event_type,
        decorator=extend_schema(
            summary=family.summaries.get(event_type, f"`{event_type}`"),
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


@functools.cache
def webhooks() -> list[OpenApiWebhook]:
    """One webhook per registered event type, in their order (after every app's ready())."""
    if not apps.ready:
        raise AppRegistryNotReady("The webhook schema is built once the apps have registered.")
    return [_webhook(event_type) for event_type in _event_types]


def __getattr__(name: str) -> Any:
    # SPECTACULAR_SETTINGS["WEBHOOKS"] names `WEBHOOKS` by its import path: built when the
    # schema is generated, so a new event type in EVENT_TYPES is documented without touching
    # settings, and the apps' registrations are all in.
    if name == "WEBHOOKS":
        return webhooks()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
