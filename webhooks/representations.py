"""How an event looks outside: the webhook body and the GET /events item are the same dict."""

from typing import Any

from rest_framework.fields import DateTimeField

from webhooks.models import Event

_TIMESTAMP = DateTimeField()  # the API's own ISO 8601 rendering ("...Z")


def event_data(event: Event, shown_to: int | None) -> dict[str, Any]:
    """`shown_to`: the recipient's user id, or None for one who may see every event whole."""
    return {
        "id": str(event.id),
        "type": event.type,
        "created_at": _TIMESTAMP.to_representation(event.created_at),
        "data": event.payload_for(shown_to),
    }
