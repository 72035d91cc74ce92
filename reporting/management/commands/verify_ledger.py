from django.core.management.base import CommandError

from ledger.verification import CHECKS
from ledgerflow.progress import ProgressCommand
from reporting.services import record_verification


class Command(ProgressCommand):
    help = "Re-check the ledger invariants over the whole ledger; exits non-zero on any violation."

    def handle(self, *args, **options):
        with self.progress("checking", unit="checks", total=len(CHECKS)) as progress:
            # Also sets the gauges and keeps the run for the admin dashboard.
            result = record_verification(progress=progress.callback())
        lines = []
        for name in CHECKS:
            count = result.counts[name]
            status = f"{count} violation(s), e.g. {result.samples[name]}" if count else "ok"
            lines.append(f"{name}: {status}")
        if result.ok:
            lines.append(self.style.SUCCESS("verify_ledger: all invariants hold"))
        self.result(
            {
                "ok": result.ok,
                "checked_at": result.checked_at.isoformat(),
                "violation_count": result.violation_count,
                "counts": result.counts,
                "samples": {
                    name: [list(row) for row in rows] for name, rows in result.samples.items()
                },
            },
            "\n".join(lines),
        )
        if not result.ok:
            raise CommandError(f"verify_ledger: {result.violation_count} violation(s)")
