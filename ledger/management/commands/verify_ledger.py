from django.core.management.base import BaseCommand, CommandError

from ledger.reporting import record_verification
from ledger.verification import CHECKS


class Command(BaseCommand):
    help = "Re-check the ledger invariants over the whole ledger; exits non-zero on any violation."

    def handle(self, *args, **options):
        result = record_verification()  # also sets the gauges and keeps the run
        for name in CHECKS:
            count = result.counts[name]
            status = f"{count} violation(s), e.g. {result.samples[name]}" if count else "ok"
            self.stdout.write(f"{name}: {status}")
        if not result.ok:
            raise CommandError(f"verify_ledger: {result.violation_count} violation(s)")
        self.stdout.write(self.style.SUCCESS("verify_ledger: all invariants hold"))
