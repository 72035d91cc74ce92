"""A webhook signing secret is shown once and never stored for an idempotent replay.

Create and rotate-secret honour Idempotency-Key, so their responses are stored. The stored
copy omits `secret`: a replay answers the same status and endpoint without it (as after a
lost response, the client rotates the secret to get a new one).
"""

import json

import pytest

from ledger.models import IdempotencyKey
from webhooks.models import WebhookEndpoint

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed")]

BASE = "/api/v1/webhook-endpoints"


def stored_text() -> str:
    return json.dumps(list(IdempotencyKey.objects.values()), default=str)


def test_create_stores_no_secret_and_replays_the_endpoint_without_it(customer_client):
    def create():
        return customer_client.post(
            BASE, {"url": "http://127.0.0.1:9/"}, format="json", HTTP_IDEMPOTENCY_KEY="wh-s1"
        )

    first = create()
    secret = first.json()["secret"]

    assert first.status_code == 201, first.json()
    assert secret.startswith("whsec_")
    assert secret not in stored_text()
    replay = create()
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "secret" not in replay.json()
    assert replay.json() == {k: v for k, v in first.json().items() if k != "secret"}
    assert WebhookEndpoint.objects.count() == 1
    assert WebhookEndpoint.objects.get().secret == secret


def test_rotate_secret_stores_no_secret_and_a_replay_does_not_rotate_again(
    customer, customer_client
):
    created = customer_client.post(BASE, {"url": "http://127.0.0.1:9/"}, format="json").json()
    url = f"{BASE}/{created['id']}/rotate-secret"

    first = customer_client.post(url, HTTP_IDEMPOTENCY_KEY="rot-1")
    rotated = first.json()["secret"]
    replay = customer_client.post(url, HTTP_IDEMPOTENCY_KEY="rot-1")

    assert first.status_code == replay.status_code == 200, first.json()
    assert rotated != created["secret"]
    assert rotated not in stored_text()
    assert created["secret"] not in stored_text()
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert "secret" not in replay.json()
    assert replay.json()["id"] == created["id"]
    assert WebhookEndpoint.objects.get().secret == rotated  # rotated once, not twice
