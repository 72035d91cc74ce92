"""Schedule `webhooks.tasks.requeue_deliveries` every 30 s (django-celery-beat, editable in admin).

The safety net of at-least-once delivery: pending deliveries whose message was lost (worker
killed mid-delivery, broker flushed) are re-enqueued once they are overdue.
"""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "requeue-deliveries"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_30s = IntervalSchedule.objects.filter(every=30, period="seconds").first()
    if every_30s is None:
        every_30s = IntervalSchedule.objects.create(every=30, period="seconds")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "webhooks.tasks.requeue_deliveries",
            "interval": every_30s,
            "crontab": None,
            "enabled": True,
            "description": "Re-enqueue overdue pending webhook deliveries (lost messages).",
        },
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0002_endpoints_deliveries"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
