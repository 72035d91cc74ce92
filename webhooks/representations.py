"""How an event looks outside: the webhook body and the GET /events item are the same dict."""

from typing import Any

from rest_framework.fields import DateTimeField

from webhooks.models import Event

_TIMESTAMP = DateTimeField()  # the API's own ISO 8601 rendering ("...Z")


def event_data(event: Event) -> dict[str, Any]:
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": _TIMESTAMP.to_representation(event.created_at),
        "data": event.payload,
    }
