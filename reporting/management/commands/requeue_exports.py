from datetime import timedelta

from django.core.management.base import BaseCommand

from reporting.services import EXPORT_REQUEUE_GRACE, requeue_exports


class Command(BaseCommand):
    help = "Re-enqueue pending exports and stale running ones whose message was lost (beat task)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=EXPORT_REQUEUE_GRACE.total_seconds(),
            help="Seconds pending before an export counts as lost (default %(default)s).",
        )

    def handle(self, *args, **options):
        count = requeue_exports(grace=timedelta(seconds=options["grace"]))
        self.stdout.write(f"requeue_exports: {count} export(s) re-enqueued")
