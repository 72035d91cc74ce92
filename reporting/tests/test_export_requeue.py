"""Exports survive a lost broker: the enqueue cannot fail a request, beat re-sends lost ones."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError

from ledgerflow.celery import app as celery_app
from reporting import services, tasks
from reporting.models import Export
from webhooks.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("file_storage")]


@pytest.fixture
def queued(monkeypatch):
    """What was sent to the broker (nothing runs)."""
    sent: list[int] = []
    monkeypatch.setattr("reporting.tasks.run_export.delay", sent.append)
    return sent


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to redis:6379. Connection refused.")

    monkeypatch.setattr("reporting.tasks.run_export.delay", refuse)


def export(owner, *, age=timedelta(0), **fields):
    row = Export.objects.create(owner=owner, kind=Export.Kind.ENTRIES, **fields)
    Export.objects.filter(pk=row.pk).update(created_at=timezone.now() - age)
    return row


def test_an_export_requested_while_the_broker_is_down_is_202_and_stays_pending(
    funded, customer, customer_client, broker_down, django_capture_on_commit_callbacks
):
    funded(customer, "1.00")

    with django_capture_on_commit_callbacks(execute=True):
        response = customer_client.post("/api/v1/exports", {"kind": "entries"}, format="json")

    assert response.status_code == 202, response.content
    row = Export.objects.get(public_id=response.json()["id"])
    assert row.status == Export.Status.PENDING


def test_requeue_resends_lost_pending_and_stale_running_exports_only(
    customer, queued, django_capture_on_commit_callbacks
):
    now = timezone.now()
    lost = export(customer, age=timedelta(minutes=10))
    stale = export(
        customer,
        age=timedelta(hours=2),
        status=Export.Status.RUNNING,
        started_at=now - services.EXPORT_LEASE - timedelta(seconds=1),
    )
    export(customer)  # just requested: its message is on its way
    export(customer, age=timedelta(hours=2), status=Export.Status.RUNNING, started_at=now)
    export(customer, age=timedelta(hours=2), status=Export.Status.COMPLETED, completed_at=now)
    export(customer, age=timedelta(hours=2), status=Export.Status.FAILED, completed_at=now)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_exports() == 2

    assert sorted(queued) == sorted([lost.pk, stale.pk])


def test_requeued_exports_complete_once_and_a_second_sweep_finds_nothing(
    funded, customer, eager, django_capture_on_commit_callbacks
):
    funded(customer, "1.00")
    lost = export(customer, age=timedelta(minutes=10))

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_exports() == 1
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.requeue_exports() == 0

    lost.refresh_from_db()
    assert (lost.status, lost.row_count) == (Export.Status.COMPLETED, 1)
    assert Event.objects.filter(type="export.completed").count() == 1


def test_a_duplicate_message_for_a_requeued_export_changes_nothing(
    funded, customer, eager, file_storage, django_capture_on_commit_callbacks
):
    funded(customer, "1.00")
    lost = export(customer, age=timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        services.requeue_exports()
    lost.refresh_from_db()
    completed_at = lost.completed_at

    tasks.run_export(lost.pk)  # the original message turns up after all

    lost.refresh_from_db()
    assert lost.completed_at == completed_at
    assert len(list(file_storage.iterdir())) == 1
    assert Event.objects.filter(type="export.completed").count() == 1


def test_the_sweep_survives_the_broker_being_down_too(
    customer, broker_down, django_capture_on_commit_callbacks
):
    lost = export(customer, age=timedelta(minutes=10))
    with django_capture_on_commit_callbacks(execute=True):
        assert services.requeue_exports() == 1  # logged; the next sweep tries again
    lost.refresh_from_db()
    assert lost.status == Export.Status.PENDING


def test_requeue_command_runs_the_service(
    customer, queued, capsys, django_capture_on_commit_callbacks
):
    lost = export(customer, age=timedelta(seconds=5))

    with django_capture_on_commit_callbacks(execute=True):
        call_command("requeue_exports")
        call_command("requeue_exports", "--grace", "1")

    assert queued == [lost.pk]
    out = capsys.readouterr().out
    assert "requeue_exports: 0 export(s) re-enqueued" in out
    assert "requeue_exports: 1 export(s) re-enqueued" in out


def test_requeue_exports_is_scheduled_every_30_seconds():
    task = PeriodicTask.objects.select_related("interval").get(name="requeue-exports")
    assert task.task == "ledger.tasks.requeue_exports"
    assert (task.interval.every, task.interval.period, task.enabled) == (30, "seconds", True)
    assert "ledger.tasks.requeue_exports" in celery_app.tasks
