"""SSRF: endpoints may only reach public addresses, checked on save and again on delivery."""

import socket

import pytest
from django.db import transaction

from webhooks import services, transport
from webhooks.models import Delivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

PUBLIC_IP = "93.184.216.34"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.1.2.3:8080/hook",
        "http://10.0.0.5/hook",
        "http://172.16.3.4/hook",
        "http://192.168.1.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fe80::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "http://224.0.0.1/hook",
        "http://100.64.0.1/hook",
        "http://localhost:8000/hook",
    ],
)
def test_private_urls_are_refused_on_create(customer_client, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False

    response = customer_client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")

    assert response.status_code == 422, response.json()
    assert response.json()["code"] == "validation_error"
    assert "non-public" in response.json()["errors"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/hook", "example.com/hook", "https://", "javascript:alert(1)"]
)
def test_non_http_urls_are_refused(customer_client, url):
    response = customer_client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")

    assert response.status_code == 422
    assert response.json()["errors"]["url"] == ["Use an absolute http:// or https:// URL."]


def test_public_urls_are_accepted(customer_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    url = f"https://{PUBLIC_IP}/ledgerflow"

    response = customer_client.post("/api/v1/webhook-endpoints", {"url": url}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["url"] == url


def test_patch_to_a_private_url_is_refused(customer, customer_client, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    endpoint = services.create_endpoint(actor=customer, url=f"https://{PUBLIC_IP}/a")

    response = customer_client.patch(
        f"/api/v1/webhook-endpoints/{endpoint.public_id}",
        {"url": "http://10.1.1.1/b"},
        format="json",
    )

    assert response.status_code == 422
    assert "url" in response.json()["errors"]
    endpoint.refresh_from_db()
    assert endpoint.url == f"https://{PUBLIC_IP}/a"


def test_unresolvable_host_is_refused(settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False

    def no_such_host(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    with pytest.raises(transport.EndpointUrlRefused, match="does not resolve"):
        transport.ensure_deliverable_url("https://nowhere.invalid/hook")


def test_a_host_that_later_resolves_to_loopback_is_refused_on_delivery(
    customer, receiver, settings, monkeypatch
):
    """DNS rebinding: public when saved, loopback when sent. Nothing reaches the receiver."""
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    port = int(receiver.url.rsplit(":", 1)[1].split("/")[0])
    real_getaddrinfo = socket.getaddrinfo
    answer = {"ip": PUBLIC_IP}

    def rebinding(host, *args, **kwargs):
        if host == "hooks.rebind.test":
            return real_getaddrinfo(answer["ip"], *args, **kwargs)
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    endpoint = services.create_endpoint(actor=customer, url=f"http://hooks.rebind.test:{port}/")
    with transaction.atomic():
        services.record_event("account.created", {"id": "acc_1"}, accounts=[_account(customer)])
    answer["ip"] = "127.0.0.1"

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) == "pending"

    delivery.refresh_from_db()
    assert delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error == "refused: 'hooks.rebind.test' resolved to a non-public address"
    assert receiver.requests == []


def test_a_private_endpoint_is_refused_on_delivery_once_the_setting_is_off(
    customer, receiver, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():
        services.record_event("account.created", {"id": "acc_1"}, accounts=[_account(customer)])
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False

    services.attempt_delivery(delivery_id=Delivery.objects.get(endpoint=endpoint).pk)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.last_error == "refused: '127.0.0.1' resolved to a non-public address"
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("address", "public"),
    [
        (PUBLIC_IP, True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.9.8.7", False),
        ("169.254.1.1", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("::ffff:10.0.0.1", False),
        ("239.1.1.1", False),
        ("240.0.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, nothing binds it
    ],
)
def test_is_public_address(address, public):
    assert transport.is_public_address(address) is public


def _account(owner):
    from accounts.tests.factories import AccountFactory

    return AccountFactory(owner=owner)
