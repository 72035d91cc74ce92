"""Event payloads are built per recipient (issue 11, item 1): webhook bodies and GET /events
show an owner the balances of its own accounts only; staff endpoints see every event whole
only with VIEW_EVENTS."""

from decimal import Decimal

import pytest

from accounts.tests.factories import UserFactory
from conftest import client_for
from ledger.services import post_transfer
from webhooks import services
from webhooks.models import Delivery
from webhooks.selectors import VIEW_EVENTS

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "private_urls_allowed")]


def _lines(data: dict) -> dict[str, dict]:
    return {e["account"]: e for e in data["entries"]}


def test_payee_webhook_and_events_hide_the_payers_balance(
    customer, other_customer, other_client, funded, receiver, django_capture_on_commit_callbacks
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    services.create_endpoint(actor=other_customer, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        txn = post_transfer(
            actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("1")
        )
    (request,) = receiver.wait_for(1)
    polled = other_client.get("/api/v1/events").json()["results"]
    for body in (request.json, next(e for e in polled if e["data"]["id"] == txn.public_id)):
        lines = _lines(body["data"])
        assert lines[source.public_id] == {"account": source.public_id, "amount": "-1.00"}
        assert lines[target.public_id]["balance_after"] == "1.00"


def test_payer_event_shows_only_its_own_balance(customer, other_customer, customer_client, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "50.00")
    txn = post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("1")
    )
    polled = customer_client.get("/api/v1/events").json()["results"]
    lines = _lines(next(e for e in polled if e["data"]["id"] == txn.public_id)["data"])
    assert lines[source.public_id]["balance_after"] == "99.00"
    assert "balance_after" not in lines[target.public_id]


def test_staff_endpoints_get_every_event_whole_only_with_the_right(
    customer, other_customer, funded, receiver, django_capture_on_commit_callbacks
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    watcher = UserFactory(is_staff=True, rights=[VIEW_EVENTS])
    bystander = UserFactory(is_staff=True)  # staff without the right: no one else's events
    watching = services.create_endpoint(actor=watcher, url=receiver.url)
    idle = services.create_endpoint(actor=bystander, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        txn = post_transfer(
            actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("1")
        )
    (request,) = receiver.wait_for(1)
    lines = _lines(request.json["data"])
    assert lines[source.public_id]["balance_after"] == "99.00"
    assert lines[target.public_id]["balance_after"] == "1.00"
    assert Delivery.objects.filter(endpoint=watching, event__payload__id=txn.public_id).exists()
    assert not Delivery.objects.filter(endpoint=idle).exists()
    polled = client_for(watcher).get("/api/v1/events").json()["results"]
    assert any(e["data"].get("id") == txn.public_id for e in polled)
    assert client_for(bystander).get("/api/v1/events").json()["results"] == []


def test_an_event_of_many_owners_stores_one_payload_and_each_sees_only_its_own(staff, funded):
    """A journal to 40 customers: one payload, a list of positions per owner (not 40 copies)."""
    from ledger.services import post_journal
    from webhooks.models import Event

    owners = [UserFactory() for _ in range(40)]
    payer = funded(UserFactory(), "40.00")
    targets = [funded(owner, "0") for owner in owners]
    txn = post_journal(
        actor=staff,
        entries=[(payer.pk, Decimal("-40.00"))] + [(t.pk, Decimal("1.00")) for t in targets],
    )
    event = Event.objects.get(type="transaction.posted", payload__id=txn.public_id)
    assert all(len(positions) == 1 for positions in event.owned_entries.values())
    for owner, target in list(zip(owners, targets, strict=True))[:3]:
        lines = _lines(event.payload_for(owner.pk))
        assert lines[target.public_id]["balance_after"] == "1.00"
        hidden = [line for key, line in lines.items() if key != target.public_id]
        assert all("balance_after" not in line and "version" not in line for line in hidden)
    assert all("balance_after" in line for line in event.payload_for(None)["entries"])
