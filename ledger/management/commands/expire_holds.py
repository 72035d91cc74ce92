from django.core.management.base import BaseCommand

from ledger.services import expire_holds


class Command(BaseCommand):
    help = "Void two-phase holds whose expires_at has passed (also a beat task)."

    def handle(self, *args, **options):
        self.stdout.write(f"expire_holds: {expire_holds()} hold(s) voided")
