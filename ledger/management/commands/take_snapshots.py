from django.core.management.base import BaseCommand

from ledger.reporting import take_snapshots


class Command(BaseCommand):
    help = "Snapshot the balances of accounts that changed since their last snapshot (beat task)."

    def handle(self, *args, **options):
        count = take_snapshots()
        self.stdout.write(f"take_snapshots: {count} snapshot(s) written")
