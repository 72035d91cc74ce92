"""Run `requeue-deliveries` every 10 s instead of 30 s.

A delivery cut off by a killed worker is re-sent once its lease (18 s) and REQUEUE_GRACE (15 s)
have passed; the beat period adds up to one more period. 10 s keeps the whole under 60 s
(tests/faults/test_worker_faults.py). The sweep is one indexed query when nothing is overdue.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "requeue-deliveries"


def _set_interval(apps, seconds: int) -> None:
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    interval = IntervalSchedule.objects.filter(every=seconds, period="seconds").first()
    if interval is None:
        interval = IntervalSchedule.objects.create(every=seconds, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "webhooks.tasks.requeue_deliveries",
            "interval": interval,
            "crontab": None,
            "enabled": True,
            "description": "Re-enqueue overdue pending webhook deliveries (lost messages).",
        },
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule(apps, schema_editor):
    _set_interval(apps, 10)


def unschedule(apps, schema_editor):
    _set_interval(apps, 30)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0004_event_views"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
