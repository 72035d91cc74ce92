"""`retry_failed_deliveries`: failed deliveries go back through the service and get delivered."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from accounts.services import open_account
from webhooks import services
from webhooks.models import Delivery
from webhooks.tests.conftest import verify_signature

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager", "private_urls_allowed")]


def retry(**options) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("retry_failed_deliveries", stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def outage(
    customer, other_customer, receiver, fast_retries, settings, django_capture_on_commit_callbacks
):
    """Two endpoints whose receiver answered 500 to the only attempt allowed: both failed."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver.status = 500
    mine = services.create_endpoint(actor=customer, url=receiver.url)
    theirs = services.create_endpoint(actor=other_customer, url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        open_account(actor=customer, asset_code="USD")
        open_account(actor=other_customer, asset_code="USD")
    assert list(Delivery.objects.values_list("status", flat=True)) == ["failed", "failed"]
    assert len(receiver.requests) == 2
    receiver.status = 200  # the receiver is back
    return mine, theirs


def test_dry_run_lists_and_changes_nothing(outage):
    mine, _ = outage
    before = list(Delivery.objects.order_by("pk").values("status", "attempts", "updated_at"))
    out, _ = retry(dry_run=True, json=True)
    data = json.loads(out)
    assert data["dry_run"] is True
    assert data["matched"] == 2
    assert {d["endpoint"] for d in data["deliveries"]} == {e.public_id for e in outage}
    assert {d["last_status_code"] for d in data["deliveries"]} == {500}

    out, _ = retry(dry_run=True, endpoint=mine.public_id)
    assert "would queue 1 delivery(ies)" in out
    assert mine.public_id in out
    assert (
        list(Delivery.objects.order_by("pk").values("status", "attempts", "updated_at")) == before
    )


def test_retried_delivery_is_delivered_by_the_task(
    outage, receiver, django_capture_on_commit_callbacks
):
    mine, theirs = outage
    with django_capture_on_commit_callbacks(execute=True):
        out, err = retry(endpoint=mine.public_id, progress_interval=0)

    assert out == "retry_failed_deliveries: 1 delivery(ies) queued again\n"
    assert "retrying 1/1 deliveries (100%)" in err
    (request,) = receiver.requests[2:]  # the new, successful attempt
    assert verify_signature(request.headers["LedgerFlow-Signature"], request.body, mine.secret)
    delivered = Delivery.objects.get(endpoint=mine)
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == (
        "succeeded",
        2,
        200,
    )
    assert Delivery.objects.get(endpoint=theirs).status == "failed"  # not asked for

    # Nothing failed is left for that endpoint: a second run queues nothing.
    with django_capture_on_commit_callbacks(execute=True):
        data = json.loads(retry(endpoint=mine.public_id, json=True)[0])
    assert (data["matched"], data["retried"]) == (0, [])
    assert len(receiver.requests) == 3


def test_a_lost_message_is_sent_by_the_requeue_task(
    outage, receiver, django_capture_on_commit_callbacks
):
    """Without the commit hook (the broker lost the message) the delivery waits as pending;
    beat's requeue_deliveries sends it."""
    _, theirs = outage
    data = json.loads(retry(endpoint=theirs.public_id, json=True)[0])  # hooks not run
    delivery = Delivery.objects.get(endpoint=theirs)
    assert data["retried"] == [delivery.public_id]
    assert delivery.status == "pending"
    assert len(receiver.requests) == 2

    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_deliveries(grace=timedelta(0)) == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"
    assert len(receiver.requests) == 3


def test_filters_by_event_type_and_since(outage, django_capture_on_commit_callbacks):
    assert json.loads(retry(event_type="order.created", json=True)[0])["matched"] == 0
    future = (timezone.now() + timedelta(hours=1)).isoformat()
    assert json.loads(retry(since=future, json=True, dry_run=True)[0])["matched"] == 0
    assert json.loads(retry(since="1h", json=True, dry_run=True)[0])["matched"] == 2
    Delivery.objects.filter(endpoint=outage[1]).update(
        updated_at=timezone.now() - timedelta(days=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        data = json.loads(retry(event_type="account.created", since="1d", json=True)[0])
    assert data["matched"] == 1
    assert len(data["retried"]) == 1
    assert Delivery.objects.get(endpoint=outage[1]).status == "failed"  # failed 2 days ago


def test_disabled_endpoints_are_left_out(outage, customer):
    mine, _theirs = outage
    services.update_endpoint(actor=customer, endpoint=mine, is_active=False)
    assert json.loads(retry(dry_run=True, json=True)[0])["matched"] == 1
    with pytest.raises(CommandError, match="disabled"):
        retry(endpoint=mine.public_id)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"endpoint": "we_missing"}, "No webhook endpoint"),
        ({"since": "last week"}, "neither a duration"),
        ({"limit": 0}, "at least 1"),
    ],
)
def test_bad_arguments_change_nothing(outage, options, message):
    with pytest.raises(CommandError, match=message):
        retry(**options)
    assert set(Delivery.objects.values_list("status", flat=True)) == {"failed"}
