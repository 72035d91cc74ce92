from django.core.management.base import BaseCommand

from ledger.idempotency import purge_expired_keys


class Command(BaseCommand):
    help = "Delete idempotency records older than IDEMPOTENCY_TTL (beat task)."

    def handle(self, *args, **options):
        count = purge_expired_keys()
        self.stdout.write(f"purge_idempotency_keys: {count} key(s) deleted")
