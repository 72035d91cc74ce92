"""The webhook API: endpoint management, delivery log, retry, events; others' rows are 404."""

import pytest
from django.db import transaction

from webhooks import services
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.representations import event_data

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]

BASE = "/api/v1/webhook-endpoints"


def open_account(owner):
    from accounts.services import open_account

    return open_account(actor=owner, asset_code="USD")


def test_create_shows_the_secret_once(customer_client):
    response = customer_client.post(
        BASE,
        {"url": "http://127.0.0.1:9/hook", "events": ["transaction.posted"], "description": "x"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "url", "events", "is_active", "description", "created_at", "secret"}
    assert body["id"].startswith("we_")
    assert body["secret"].startswith("whsec_")
    assert body["events"] == ["transaction.posted"]
    assert body["is_active"] is True
    listed = customer_client.get(BASE).json()["results"]
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    assert "secret" not in customer_client.get(f"{BASE}/{body['id']}").json()


def test_unknown_event_types_are_rejected(customer_client):
    response = customer_client.post(
        BASE, {"url": "http://127.0.0.1:9/", "events": ["money.printed"]}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "events" in response.json()["errors"]
    assert not WebhookEndpoint.objects.exists()


def test_endpoint_limit(customer, customer_client):
    for _ in range(services.MAX_ENDPOINTS_PER_OWNER):
        services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")

    response = customer_client.post(BASE, {"url": "http://127.0.0.1:9/"}, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"
    assert WebhookEndpoint.objects.count() == services.MAX_ENDPOINTS_PER_OWNER


def test_create_replays_with_the_same_idempotency_key(customer_client):
    def create():
        return customer_client.post(
            BASE, {"url": "http://127.0.0.1:9/"}, format="json", HTTP_IDEMPOTENCY_KEY="wh-1"
        )

    first, second = create(), create()

    assert first.status_code == second.status_code == 201
    # The replay is the stored answer, which never keeps the secret.
    assert {k: v for k, v in first.json().items() if k != "secret"} == second.json()
    assert second.headers["Idempotent-Replayed"] == "true"
    assert WebhookEndpoint.objects.count() == 1


def test_patch_changes_only_the_given_fields(customer, customer_client):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/", events=[])

    response = customer_client.patch(
        f"{BASE}/{endpoint.public_id}",
        {"events": ["order.completed", "order.completed"], "is_active": False},
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert response.json()["events"] == ["order.completed"]
    assert response.json()["is_active"] is False
    assert response.json()["url"] == "http://127.0.0.1:9/"


def test_delete_removes_the_endpoint(customer, customer_client):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")

    assert customer_client.delete(f"{BASE}/{endpoint.public_id}").status_code == 204
    assert customer_client.get(f"{BASE}/{endpoint.public_id}").status_code == 404
    assert not WebhookEndpoint.objects.exists()


def test_rotate_secret_returns_the_new_secret_once(customer, customer_client):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")

    response = customer_client.post(f"{BASE}/{endpoint.public_id}/rotate-secret")

    assert response.status_code == 200
    endpoint.refresh_from_db()
    assert response.json()["secret"] == endpoint.secret
    assert response.json()["id"] == endpoint.public_id


def test_delivery_log_lists_the_endpoints_deliveries(customer, customer_client):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")
    with transaction.atomic():
        account = open_account(customer)

    response = customer_client.get(f"{BASE}/{endpoint.public_id}/deliveries")

    assert response.status_code == 200
    (item,) = response.json()["results"]
    delivery = Delivery.objects.get()
    event = Event.objects.get(type="account.created", account=account)
    assert item == {
        "id": delivery.public_id,
        "event": str(event.id),
        "endpoint": endpoint.public_id,
        "status": "pending",
        "attempts": 0,
        "last_status_code": None,
        "last_error": "",
        "next_attempt_at": item["next_attempt_at"],
        "created_at": item["created_at"],
        "delivered_at": None,
    }


def test_retry_of_a_delivery_that_is_not_failed_is_a_conflict(customer, customer_client):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")
    with transaction.atomic():
        open_account(customer)
    delivery = Delivery.objects.get()

    response = customer_client.post(
        f"{BASE}/{endpoint.public_id}/deliveries/{delivery.public_id}/retry"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)


def test_customers_see_only_their_own_endpoints_deliveries_and_events(
    customer, customer_client, other_client, other_customer
):
    endpoint = services.create_endpoint(actor=customer, url="http://127.0.0.1:9/")
    with transaction.atomic():
        open_account(customer)
    delivery = Delivery.objects.get()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)
    theirs = services.create_endpoint(actor=other_customer, url="http://127.0.0.1:9/")
    path = f"{BASE}/{endpoint.public_id}"

    assert other_client.get(BASE).json()["results"][0]["id"] == theirs.public_id
    assert len(other_client.get(BASE).json()["results"]) == 1
    for response in [
        other_client.get(path),
        other_client.patch(path, {"is_active": False}, format="json"),
        other_client.delete(path),
        other_client.post(f"{path}/rotate-secret"),
        other_client.get(f"{path}/deliveries"),
        other_client.post(f"{path}/deliveries/{delivery.public_id}/retry"),
        # someone else's delivery under your own endpoint's path
        other_client.post(f"{BASE}/{theirs.public_id}/deliveries/{delivery.public_id}/retry"),
    ]:
        assert response.status_code == 404, response.json()
        assert response.json()["code"] == "not_found"
    endpoint.refresh_from_db()
    assert endpoint.is_active
    assert Delivery.objects.get().status == Delivery.Status.FAILED
    assert other_client.get("/api/v1/events").json()["results"] == []
    assert len(customer_client.get("/api/v1/events").json()["results"]) == 1


def test_events_are_newest_first_filtered_and_staff_see_all(
    customer, other_customer, customer_client, staff_client, funded
):
    source, target = funded(customer), funded(other_customer, "0")
    from decimal import Decimal

    from ledger.services import post_transfer

    txn = post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("1")
    )
    with transaction.atomic():
        open_account(other_customer)

    mine = customer_client.get("/api/v1/events").json()["results"]
    assert [e["type"] for e in mine] == ["transaction.posted", "transaction.posted"]
    assert mine[0]["data"]["id"] == txn.public_id  # newest first: the transfer, then the deposit
    assert mine[0] == event_data(Event.objects.get(payload__id=txn.public_id), customer.pk)
    posted = customer_client.get("/api/v1/events", {"type": "transaction.posted"}).json()
    assert len(posted["results"]) == 2
    assert customer_client.get("/api/v1/events", {"type": "order.created"}).json()["results"] == []
    assert customer_client.get("/api/v1/events", {"type": "nope"}).status_code == 400
    everything = staff_client.get("/api/v1/events").json()["results"]
    assert len(everything) == Event.objects.count()


def test_events_page_with_a_cursor(customer, customer_client):
    for _ in range(3):
        with transaction.atomic():
            open_account(customer)

    first = customer_client.get("/api/v1/events", {"page_size": 2}).json()
    second = customer_client.get(first["next"]).json()

    ids = [e["id"] for e in first["results"] + second["results"]]
    assert len(ids) == len(set(ids)) == 3
    assert second["next"] is None


def test_anonymous_callers_are_refused(api_client):
    assert api_client.get(BASE).status_code == 401
    assert api_client.get("/api/v1/events").status_code == 401
