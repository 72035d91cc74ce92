"""Run `requeue-exports` every 30 s instead of 5 minutes.

An export requested while the broker was down (its message never left) is re-enqueued once
it is EXPORT_REQUEUE_GRACE (30 s) old: with a 30 s period it starts within a minute of the
broker's return (tests/faults/test_redis_faults.py). The sweep is one query.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "requeue-exports"


def _set_interval(apps, every: int, period: str) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval = IntervalSchedule.objects.filter(every=every, period=period).first()
    if interval is None:
        interval = IntervalSchedule.objects.create(every=every, period=period)
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "ledger.tasks.requeue_exports",
            "interval": interval,
            "crontab": None,
            "enabled": True,
            "description": "Re-enqueue pending and stale running exports (lost messages).",
        },
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule(apps, schema_editor):
    _set_interval(apps, 30, "seconds")


def unschedule(apps, schema_editor):
    _set_interval(apps, 5, "minutes")


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0012_config_version"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
