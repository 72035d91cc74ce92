from datetime import timedelta

from django.core.management.base import BaseCommand

from webhooks.services import REQUEUE_GRACE, requeue_deliveries


class Command(BaseCommand):
    help = "Re-enqueue pending webhook deliveries whose message was lost (beat task)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=REQUEUE_GRACE.total_seconds(),
            help="Seconds past due before a delivery counts as lost (default %(default)s).",
        )

    def handle(self, *args, **options):
        count = requeue_deliveries(grace=timedelta(seconds=options["grace"]))
        self.stdout.write(f"requeue_deliveries: {count} delivery(ies) re-enqueued")
