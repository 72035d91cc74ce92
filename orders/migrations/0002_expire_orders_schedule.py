"""Schedule `orders.tasks.expire_orders` every minute (django-celery-beat, editable in admin)."""

from django.db import migrations
from django.utils import timezone

TASK_NAME = "expire-orders"


def schedule(apps, schema_editor):
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    every_minute = IntervalSchedule.objects.filter(every=1, period="minutes").first()
    if every_minute is None:
        every_minute = IntervalSchedule.objects.create(every=1, period="minutes")
    PeriodicTask.objects.update_or_create(
        name=TASK_NAME,
        defaults={
            "task": "orders.tasks.expire_orders",
            "interval": every_minute,
            "crontab": None,
            "enabled": True,
            "description": "Expire pending orders whose expires_at has passed.",
        },
    )
    # What PeriodicTasks.changed() does: a running beat reloads its schedule.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def unschedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("orders", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule, unschedule)]
