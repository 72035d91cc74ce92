import time

from ledgerflow.progress import ProgressCommand
from reporting.services import take_snapshots

BATCH_SIZE = 10_000  # accounts per statement: a progress step every fraction of a second


class Command(ProgressCommand):
    help = "Snapshot the balances of accounts that changed since their last snapshot (beat task)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help="accounts per INSERT … SELECT (default %(default)s)",
        )

    def handle(self, *args, **options):
        started = time.perf_counter()
        with self.progress("scanning", unit="accounts") as progress:
            count = take_snapshots(
                batch_size=max(1, options["batch_size"]), progress=progress.callback()
            )
        self.result(
            {
                "snapshots": count,
                "accounts": progress.done,
                "seconds": round(time.perf_counter() - started, 3),
            },
            f"take_snapshots: {count} snapshot(s) written",
        )
