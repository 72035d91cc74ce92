"""Schedule `ledger.tasks.requeue_exports` every 5 minutes (django-celery-beat, editable in admin).

The safety net of exports: pending ones whose message was lost (broker flushed, enqueue failed)
and running ones whose worker died are re-enqueued; build_export's claim makes a duplicate
message a no-op.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "requeue-exports"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_5_minutes = IntervalSchedule.objects.filter(every=5, period="minutes").first()
    if every_5_minutes is None:
        every_5_minutes = IntervalSchedule.objects.create(every=5, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "ledger.tasks.requeue_exports",
            "interval": every_5_minutes,
            "crontab": None,
            "enabled": True,
            "description": "Re-enqueue pending and stale running exports (lost messages).",
        },
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0010_transaction_status_guard"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
