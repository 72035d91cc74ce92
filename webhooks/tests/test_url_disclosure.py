"""The SSRF guard refuses private hosts without telling the caller what they resolved to.

A customer who registers `http://db.internal/` must not learn the internal address behind that
name, nor whether the name exists at all inside our network: creation errors and the delivery
error shown on `/deliveries` name the host as given, never an address it resolved to.
"""

import logging
import socket

import pytest
from django.db import transaction

from webhooks import services
from webhooks.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"
INTERNAL_IP = "10.20.30.40"


@pytest.fixture
def internal_dns(monkeypatch, settings):
    """Resolve *.internal.test to a private address and *.missing.test to nothing at all."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    real_getaddrinfo = socket.getaddrinfo
    answers = {"db.internal.test": INTERNAL_IP, "hooks.rebind.test": PUBLIC_IP}

    def resolve(host, *args, **kwargs):
        if host in answers:
            return real_getaddrinfo(answers[host], *args, **kwargs)
        if str(host).endswith(".missing.test"):
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    return answers


def create(client, url: str):
    return client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")


def test_a_private_host_name_is_refused_without_its_address(customer_client, internal_dns):
    response = create(customer_client, "http://db.internal.test/hook")

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"
    message = response.json()["errors"]["url"][0]
    assert "db.internal.test" in message
    assert INTERNAL_IP not in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_private_and_unknown_host_names_get_the_same_answer(customer_client, internal_dns):
    """Otherwise the error is an oracle for which names exist inside our network."""
    private = create(customer_client, "http://db.internal.test/hook")
    unknown = create(customer_client, "http://db.missing.test/hook")

    assert private.status_code == unknown.status_code == 422
    assert private.json()["errors"]["url"][0] == unknown.json()["errors"]["url"][0].replace(
        "db.missing.test", "db.internal.test"
    )
    assert not WebhookEndpoint.objects.exists()


def test_the_refusal_is_logged_with_the_address_for_operators(
    customer_client, internal_dns, caplog
):
    with caplog.at_level(logging.INFO, logger="webhooks.transport"):
        create(customer_client, "http://db.internal.test/hook")

    assert any(INTERNAL_IP in record.getMessage() for record in caplog.records)


def test_a_rebinding_host_is_refused_on_delivery_without_its_address(
    customer, receiver, internal_dns
):
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    endpoint = services.create_endpoint(actor=customer, url=f"http://hooks.rebind.test:{port}/")
    with transaction.atomic():
        services.record_event("account.created", {"id": "acc_1"}, accounts=[_account(customer)])
    internal_dns["hooks.rebind.test"] = "127.0.0.1"
    delivery = Delivery.objects.get(endpoint=endpoint)

    services.attempt_delivery(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert "hooks.rebind.test" in delivery.last_error
    assert "non-public" in delivery.last_error
    assert "127.0.0.1" not in delivery.last_error
    assert receiver.requests == []
    assert Event.objects.count() == 1


def _account(owner):
    from accounts.tests.factories import AccountFactory

    return AccountFactory(owner=owner)
