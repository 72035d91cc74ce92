from django.core.management.base import BaseCommand

from reporting.services import purge_exports


class Command(BaseCommand):
    help = "Delete export files older than EXPORT_RETENTION_DAYS and mark them expired (beat task)."

    def handle(self, *args, **options):
        count = purge_exports()
        self.stdout.write(f"purge_exports: {count} export(s) expired")
