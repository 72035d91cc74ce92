"""Outbox, fan-out and delivery against a real HTTP receiver, with Celery in eager mode."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from ledger.errors import InsufficientFunds
from ledger.services import post_transfer
from webhooks import services
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.representations import event_data
from webhooks.tests.conftest import verify_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "private_urls_allowed")]


def transfer(actor, source, target, amount="10.00"):
    return post_transfer(
        actor=actor, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal(amount)
    )


def test_transfer_delivers_signed_transaction_posted(
    customer, other_customer, funded, receiver, django_capture_on_commit_callbacks
):
    source, target = funded(customer), funded(other_customer, "0")
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)

    with django_capture_on_commit_callbacks(execute=True):
        txn = transfer(customer, source, target)

    (request,) = receiver.wait_for(1)
    event = Event.objects.get(type="transaction.posted", payload__id=txn.public_id)
    assert request.json == event_data(event, customer.pk)
    assert request.json["data"]["amount"] == "10.00"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"] == "LedgerFlow-Webhooks/1.0"
    assert request.headers["LedgerFlow-Event-Id"] == str(event.id)
    assert verify_signature(request.headers["LedgerFlow-Signature"], request.body, endpoint.secret)
    assert not verify_signature(request.headers["LedgerFlow-Signature"], request.body, "wrong")
    delivery = Delivery.objects.get(event=event, endpoint=endpoint)
    assert delivery.status == Delivery.Status.SUCCEEDED
    assert delivery.attempts == 1
    assert delivery.last_status_code == 200
    assert delivery.delivered_at is not None
    assert delivery.next_attempt_at is None


def test_event_is_visible_to_every_owner_and_fans_out_to_their_endpoints(
    customer, other_customer, user_factory, staff, funded, receiver
):
    source, target = funded(customer), funded(other_customer, "0")
    mine = services.create_endpoint(actor=customer, url=receiver.url)
    theirs = services.create_endpoint(actor=other_customer, url=receiver.url)
    only_accounts = services.create_endpoint(
        actor=customer, url=receiver.url, events=["account.created"]
    )
    paused = services.create_endpoint(actor=customer, url=receiver.url, is_active=False)
    stranger = services.create_endpoint(actor=user_factory(), url=receiver.url)
    operator = services.create_endpoint(actor=staff, url=receiver.url, events=[])

    with transaction.atomic():
        txn = transfer(customer, source, target)

    event = Event.objects.get(payload__id=txn.public_id)
    assert set(event.visible_to.all()) == {customer, other_customer}
    assert set(Delivery.objects.filter(event=event).values_list("endpoint", flat=True)) == {
        mine.pk,
        theirs.pk,
        operator.pk,
    }
    assert not Delivery.objects.filter(endpoint__in=[only_accounts, paused, stranger]).exists()


def test_rolled_back_transfer_emits_no_event_and_no_delivery(
    customer, other_customer, funded, receiver, django_capture_on_commit_callbacks
):
    source, target = funded(customer, "5.00"), funded(other_customer, "0")
    services.create_endpoint(actor=customer, url=receiver.url)
    events, deliveries = Event.objects.count(), Delivery.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        with pytest.raises(InsufficientFunds):
            transfer(customer, source, target, "5.01")

    assert callbacks == []
    assert Event.objects.count() == events
    assert Delivery.objects.count() == deliveries
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_record_event_needs_the_callers_transaction():
    with pytest.raises(RuntimeError):
        services.record_event("account.created", {}, accounts=[])


def test_receiver_failing_twice_gets_the_third_attempt(
    customer, other_customer, funded, receiver, fast_retries, django_capture_on_commit_callbacks
):
    source, target = funded(customer), funded(other_customer, "0")
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    receiver.statuses.extend([500, 502])

    with django_capture_on_commit_callbacks(execute=True):
        transfer(customer, source, target)

    first, second, third = receiver.wait_for(3)
    assert first.headers["LedgerFlow-Event-Id"] == third.headers["LedgerFlow-Event-Id"]
    assert first.body == second.body == third.body
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("succeeded", 3, 200)
    assert delivery.last_error == ""


def test_failed_attempt_schedules_the_next_with_backoff(
    customer, closed_port_url, monkeypatch, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_BACKOFF_BASE = 1.0
    endpoint = services.create_endpoint(actor=customer, url=closed_port_url)
    with transaction.atomic():
        services.record_event("account.created", {"id": "acc_x"}, accounts=[_account(customer)])
    delivery = Delivery.objects.get(endpoint=endpoint)
    delivery.attempts = 3  # the next failure is the 4th: 2^3 = 8 s ± 20 %
    delivery.save()
    scheduled = []
    monkeypatch.setattr(
        services.tasks.deliver_webhook,
        "apply_async",
        lambda args, countdown: scheduled.append((args, countdown)),
    )

    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.attempt_delivery(delivery_id=delivery.pk) == "pending"

    delivery.refresh_from_db()
    assert delivery.attempts == 4
    assert delivery.last_status_code is None
    assert "ConnectionError" in delivery.last_error
    ((args, countdown),) = scheduled
    assert args == (delivery.pk,)
    assert 6.4 <= countdown <= 9.6
    wait = (delivery.next_attempt_at - before).total_seconds()
    assert 6.4 <= wait <= 9.6 + 1


def test_backoff_doubles_with_jitter_and_is_capped(settings):
    settings.WEBHOOK_BACKOFF_BASE = 1.0
    settings.WEBHOOK_BACKOFF_CAP = 3600
    for attempts, nominal in [(1, 1), (2, 2), (3, 4), (9, 256)]:
        delays = [services.backoff_seconds(attempts) for _ in range(50)]
        assert all(0.8 * nominal <= d <= 1.2 * nominal for d in delays)
    assert services.backoff_seconds(30) == 3600


def test_receiver_down_for_every_attempt_fails_then_manual_retry_delivers(
    customer,
    customer_client,
    closed_port_url,
    receiver,
    fast_retries,
    settings,
    django_capture_on_commit_callbacks,
):
    endpoint = services.create_endpoint(actor=customer, url=closed_port_url)
    with django_capture_on_commit_callbacks(execute=True):
        services_open_account(customer)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert delivery.status == Delivery.Status.FAILED
    assert delivery.attempts == settings.WEBHOOK_MAX_ATTEMPTS == 10
    assert delivery.next_attempt_at is None

    # The owner fixes the URL, then asks for one more attempt.
    base = f"/api/v1/webhook-endpoints/{endpoint.public_id}"
    assert customer_client.patch(base, {"url": receiver.url}, format="json").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post(f"{base}/deliveries/{delivery.public_id}/retry")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "pending"
    assert response.json()["attempts"] == 10

    receiver.wait_for(1)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("succeeded", 11, "")


def test_a_redirect_is_a_failed_attempt_and_is_not_followed(
    customer, receiver, django_capture_on_commit_callbacks
):
    receiver.status = 302
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services_open_account(customer)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 302)
    assert [r.body for r in receiver.requests] == [receiver.requests[0].body]  # not followed


def test_a_slow_receiver_times_out(
    customer, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_TIMEOUT_READ = 0.2
    receiver.delay = 1
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        services_open_account(customer)

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert delivery.last_error.startswith("timeout")


def test_a_delivery_that_is_leased_or_not_due_or_done_is_skipped(customer, receiver):
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():
        services_open_account(customer)  # on_commit never runs: the message is "lost"
    delivery = Delivery.objects.get(endpoint=endpoint)

    delivery.next_attempt_at = timezone.now() + timedelta(seconds=30)  # leased / not due
    delivery.save()
    assert services.attempt_delivery(delivery_id=delivery.pk) is None

    delivery.next_attempt_at = timezone.now()
    delivery.save()
    assert services.attempt_delivery(delivery_id=delivery.pk) == "succeeded"
    assert services.attempt_delivery(delivery_id=delivery.pk) is None  # twice is harmless
    assert services.attempt_delivery(delivery_id=10**9) is None
    assert len(receiver.requests) == 1


def test_requeue_sends_overdue_deliveries_and_leaves_leased_ones(
    customer, receiver, django_capture_on_commit_callbacks
):
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():  # committed rows, lost messages
        services_open_account(customer)
        services_open_account(customer)
    lost, leased = Delivery.objects.filter(endpoint=endpoint).order_by("pk")
    now = timezone.now()
    Delivery.objects.filter(pk=lost.pk).update(next_attempt_at=now - timedelta(minutes=5))
    Delivery.objects.filter(pk=leased.pk).update(next_attempt_at=now + timedelta(seconds=20))

    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_deliveries() == 1

    lost.refresh_from_db()
    leased.refresh_from_db()
    assert lost.status == Delivery.Status.SUCCEEDED
    assert leased.status == Delivery.Status.PENDING
    assert len(receiver.requests) == 1


def test_requeue_command_runs_the_service(customer, receiver, django_capture_on_commit_callbacks):
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():
        services_open_account(customer)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("requeue_deliveries", "--grace", "0")
    assert Delivery.objects.get(endpoint=endpoint).status == Delivery.Status.SUCCEEDED


def test_requeue_is_scheduled_every_10_seconds():
    from django_celery_beat.models import PeriodicTask

    task = PeriodicTask.objects.get(name="requeue-deliveries")
    assert task.task == "webhooks.tasks.requeue_deliveries"
    assert (task.interval.every, task.interval.period, task.enabled) == (10, "seconds", True)


def test_a_disabled_endpoint_gets_nothing_more(customer, receiver):
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    with transaction.atomic():
        services_open_account(customer)
    endpoint.is_active = False
    endpoint.save()

    delivery = Delivery.objects.get(endpoint=endpoint)
    assert services.attempt_delivery(delivery_id=delivery.pk) is None
    delivery.refresh_from_db()
    assert (delivery.status, delivery.last_error) == ("failed", "endpoint is disabled")
    assert receiver.requests == []


def test_rotated_secret_signs_the_next_attempt(customer, receiver, fast_retries):
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    old_secret = endpoint.secret
    with transaction.atomic():
        services_open_account(customer)
    services.rotate_endpoint_secret(actor=customer, endpoint=endpoint)

    services.attempt_delivery(delivery_id=Delivery.objects.get(endpoint=endpoint).pk)

    (request,) = receiver.requests
    signature = request.headers["LedgerFlow-Signature"]
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret != old_secret
    assert verify_signature(signature, request.body, endpoint.secret)
    assert not verify_signature(signature, request.body, old_secret)


# --- helpers ------------------------------------------------------------------------------


def services_open_account(owner):
    from accounts.services import open_account

    return open_account(actor=owner, asset_code="USD")


def _account(owner):
    from accounts.tests.factories import AccountFactory

    return AccountFactory(owner=owner)
