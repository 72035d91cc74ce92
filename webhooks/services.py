"""The outbox. `record_event` is the one call other apps make, inside their atomic block."""

from collections.abc import Sequence
from typing import Any

from django.db import transaction

from webhooks.models import Event


def record_event(event_type: str, data: dict[str, Any], *, accounts: Sequence[Any] = ()) -> Event:
    """Write an Event in the caller's transaction; a rolled-back change leaves no event.

    `accounts` are the ledger accounts the event concerns: their owners may see it.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("record_event must run inside the transaction of the change")
    first = accounts[0] if accounts else None
    owner_id = next((a.owner_id for a in accounts if a.owner_id), None)
    return Event.objects.create(type=event_type, payload=data, account=first, owner_id=owner_id)
