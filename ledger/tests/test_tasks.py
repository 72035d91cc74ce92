"""The beat tasks: scheduled after migrate, registered in Celery, harmless twice.

The reports' tasks themselves are tested in reporting/tests/test_tasks.py.
"""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ledger import tasks
from ledger.models import IdempotencyKey
from ledgerflow.celery import app as celery_app
from reporting.models import VerificationRun

pytestmark = pytest.mark.django_db

SCHEDULE = {
    "take-snapshots": "ledger.tasks.take_snapshots",
    "purge-idempotency-keys": "ledger.tasks.purge_idempotency_keys",
    "purge-exports": "ledger.tasks.purge_exports",
    "verify-ledger": "ledger.tasks.verify_ledger",
}


def crontab_of(name: str) -> str:
    c = PeriodicTask.objects.select_related("crontab").get(name=name).crontab
    return f"{c.minute} {c.hour} {c.day_of_month} {c.month_of_year} {c.day_of_week}"


def test_every_upkeep_task_is_scheduled_after_migrate(settings):
    scheduled = dict(PeriodicTask.objects.filter(name__in=SCHEDULE).values_list("name", "task"))
    assert scheduled == SCHEDULE
    assert PeriodicTask.objects.filter(name__in=SCHEDULE, enabled=True).count() == len(SCHEDULE)
    assert crontab_of("take-snapshots") == settings.SNAPSHOT_SCHEDULE
    assert crontab_of("purge-idempotency-keys") == "0 * * * *"
    assert crontab_of("purge-exports") == "30 3 * * *"
    assert crontab_of("verify-ledger") == "*/15 * * * *"


def test_every_scheduled_task_name_is_registered_in_celery():
    celery_app.loader.import_default_modules()  # what a worker does at start: autodiscovery
    names = set(PeriodicTask.objects.values_list("task", flat=True)) - {"celery.backend_cleanup"}
    assert names >= set(SCHEDULE.values())
    assert names <= set(celery_app.tasks), names - set(celery_app.tasks)
    assert "ledger.tasks.run_export" in celery_app.tasks


# --- every upkeep task twice in a row --------------------------------------------------------


def test_purge_idempotency_keys_twice(customer_client, funded, customer):
    funded(customer, "1.00")
    customer_client.post(
        "/api/v1/exports", {"kind": "entries"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"
    )
    customer_client.post(
        "/api/v1/exports", {"kind": "entries"}, format="json", HTTP_IDEMPOTENCY_KEY="k2"
    )
    IdempotencyKey.objects.filter(key="k1").update(expires_at=timezone.now() - timedelta(1))

    assert tasks.purge_idempotency_keys() == 1
    assert tasks.purge_idempotency_keys() == 0
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["k2"]


# --- the same-named management commands ------------------------------------------------------


def test_commands_run_the_same_services_twice(funded, customer, capsys):
    funded(customer, "1.00")
    for _ in range(2):
        call_command("take_snapshots")
        call_command("purge_idempotency_keys")
        call_command("purge_exports")
        call_command("verify_ledger")
    out = capsys.readouterr().out
    assert "take_snapshots: 0 snapshot(s) written" in out
    assert out.count("purge_idempotency_keys: 0 key(s) deleted") == 2
    assert out.count("purge_exports: 0 export(s) expired") == 2
    assert out.count("verify_ledger: all invariants hold") == 2
    assert VerificationRun.objects.count() == 2
