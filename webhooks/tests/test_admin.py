import pytest
from django.contrib.messages import get_messages
from django.db import transaction
from django.urls import reverse

from accounts.tests.factories import UserFactory
from webhooks import services
from webhooks.models import Delivery, Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("private_urls_allowed", "eager")]


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def failed_delivery(customer, receiver):
    from accounts.services import open_account

    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():
        open_account(actor=customer, asset_code="USD")
    delivery = Delivery.objects.get(endpoint=endpoint)
    Delivery.objects.filter(pk=delivery.pk).update(status="failed", attempts=10)
    return delivery


def test_pages_render_without_the_full_secret(operator, failed_delivery):
    endpoint = failed_delivery.endpoint
    pages = [
        reverse("admin:webhooks_webhookendpoint_changelist"),
        reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]),
        reverse("admin:webhooks_event_changelist"),
        reverse("admin:webhooks_event_change", args=[failed_delivery.event_id]),
        reverse("admin:webhooks_delivery_changelist"),
        reverse("admin:webhooks_delivery_changelist") + "?status__exact=failed",
        reverse("admin:webhooks_delivery_change", args=[failed_delivery.pk]),
    ]
    for page in pages:
        response = operator.get(page)
        assert response.status_code == 200, page
        assert endpoint.secret not in response.content.decode()
    assert endpoint.secret_hint in operator.get(pages[0]).content.decode()


def test_events_and_deliveries_are_read_only(operator, failed_delivery):
    assert operator.get(reverse("admin:webhooks_event_add")).status_code == 403
    assert operator.get(reverse("admin:webhooks_delivery_add")).status_code == 403
    url = reverse("admin:webhooks_event_delete", args=[failed_delivery.event_id])
    assert operator.post(url, {"post": "yes"}).status_code == 403
    assert Event.objects.filter(pk=failed_delivery.event_id).exists()


def test_retry_action_delivers_and_reports_refusals(
    operator, failed_delivery, receiver, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = operator.post(
            reverse("admin:webhooks_delivery_changelist"),
            {"action": "retry_selected", "_selected_action": [failed_delivery.pk]},
            follow=True,
        )
    assert response.status_code == 200
    failed_delivery.refresh_from_db()
    assert (failed_delivery.status, failed_delivery.attempts) == ("succeeded", 11)
    assert len(receiver.requests) == 1

    response = operator.post(
        reverse("admin:webhooks_delivery_changelist"),
        {"action": "retry_selected", "_selected_action": [failed_delivery.pk]},
        follow=True,
    )
    messages = [str(m) for m in get_messages(response.wsgi_request)]
    assert any("succeeded, not failed" in m for m in messages)
