"""Schedule the ledger's upkeep on django-celery-beat (editable in the admin afterwards).

- take-snapshots: crontab from settings.SNAPSHOT_SCHEDULE (hourly by default);
- purge-idempotency-keys: hourly; purge-exports: daily; verify-ledger: every 15 minutes.
Re-running creates nothing twice (update_or_create by name).
"""

from django.conf import settings
from django.db import migrations
from django.utils import timezone

HOURLY = {"minute": "0", "hour": "*", "day_of_month": "*", "month_of_year": "*", "day_of_week": "*"}
DAILY = {**HOURLY, "minute": "30", "hour": "3"}
EVERY_15_MINUTES = {**HOURLY, "minute": "*/15"}

TASKS = {
    # name: (task, crontab fields, description)
    "take-snapshots": ("ledger.tasks.take_snapshots", None, "Snapshot balances that changed."),
    "purge-idempotency-keys": (
        "ledger.tasks.purge_idempotency_keys",
        HOURLY,
        "Delete idempotency records past IDEMPOTENCY_TTL.",
    ),
    "purge-exports": (
        "ledger.tasks.purge_exports",
        DAILY,
        "Delete export files past EXPORT_RETENTION_DAYS.",
    ),
    "verify-ledger": (
        "ledger.tasks.verify_ledger",
        EVERY_15_MINUTES,
        "Re-check the ledger invariants; sets the verification metrics.",
    ),
}


def snapshot_crontab() -> dict:
    minute, hour, day_of_month, month_of_year, day_of_week = settings.SNAPSHOT_SCHEDULE.split()
    return {
        "minute": minute,
        "hour": hour,
        "day_of_month": day_of_month,
        "month_of_year": month_of_year,
        "day_of_week": day_of_week,
    }


def schedule(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    for name, (task, fields, description) in TASKS.items():
        fields = fields or snapshot_crontab()
        crontab = CrontabSchedule.objects.filter(timezone="UTC", **fields).first()
        if crontab is None:
            crontab = CrontabSchedule.objects.create(timezone="UTC", **fields)
        PeriodicTask.objects.update_or_create(
            name=name,
            defaults={
                "task": task,
                "crontab": crontab,
                "interval": None,
                "enabled": True,
                "description": description,
            },
        )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name__in=TASKS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0003_reporting"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
