from django.core.management.base import BaseCommand, CommandError

from ledger.verification import CHECKS, verify_ledger


class Command(BaseCommand):
    help = "Re-check the ledger invariants over the whole ledger; exits non-zero on any violation."

    def handle(self, *args, **options):
        result = verify_ledger()
        for name in CHECKS:
            count = result.counts[name]
            status = f"{count} violation(s), e.g. {result.samples[name]}" if count else "ok"
            self.stdout.write(f"{name}: {status}")
        if not result.ok:
            raise CommandError(f"verify_ledger: {result.violation_count} violation(s)")
        self.stdout.write(self.style.SUCCESS("verify_ledger: all invariants hold"))
