"""`export_ledger`: the CSV export of the API (`POST /exports`), from the command line.

    manage.py export_ledger (--owner EMAIL | --account ACC_ID) [--kind entries|transactions]
                            [--from ISO] [--to ISO] --output FILE|-

Same columns, formatting and formula neutralisation as the API's export
(reporting.csv_export.write_csv); rows stream from the database with constant memory. The
file is written next to FILE and renamed into place at the end, so a failed run leaves no
half file. `-` writes to stdout.
"""

import os
import tempfile
import time
from datetime import datetime

from django.core.management.base import CommandError

from accounts.models import Account, User
from ledgerflow.progress import ProgressCommand, iso_instant
from reporting.csv_export import count_export_rows, write_csv
from reporting.models import Export


def _instant(text: str | None, option: str) -> datetime | None:
    return iso_instant(text, option) if text else None


class Command(ProgressCommand):
    help = "Write a CSV export of entries or transactions of one owner or account."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--owner", help="email of the owner: all their accounts")
        scope.add_argument("--account", help="public id of one account (acc_…)")
        parser.add_argument("--kind", choices=list(Export.Kind.values), default="entries")
        parser.add_argument("--from", dest="since", help="start, inclusive (ISO 8601, UTC)")
        parser.add_argument("--to", dest="until", help="end, exclusive (ISO 8601, UTC)")
        parser.add_argument("--output", "-o", required=True, help="CSV file to write, or -")

    def handle(self, *args, **options):
        since = _instant(options["since"], "--from")
        until = _instant(options["until"], "--to")
        if since and until and since >= until:
            raise CommandError("--from must be before --to.")
        if options["output"] == "-" and options["json"]:
            raise CommandError("--json prints the summary on stdout: write the CSV to a file.")
        if options["account"]:
            account = (
                Account.objects.select_related("owner").filter(public_id=options["account"]).first()
            )
            if account is None:
                raise CommandError(f"No account {options['account']!r}.")
            owner = account.owner
        else:
            account = None
            owner = User.objects.filter(email=options["owner"].strip().lower()).first()
            if owner is None:
                raise CommandError(f"No user {options['owner']!r}.")
        # The export's parameters, as the API would record them (never saved: no row, no event).
        export = Export(
            owner=owner, kind=options["kind"], account=account, period_from=since, period_to=until
        )

        started = time.perf_counter()
        total = count_export_rows(export)
        with self.progress("writing", unit="rows", total=total) as progress:
            rows, written_to = self._write(export, options["output"], progress.callback())
        data = {
            "kind": export.kind,
            "owner": owner.email if owner else None,
            "account": account.public_id if account else None,
            "from": since.isoformat() if since else None,
            "to": until.isoformat() if until else None,
            "rows": rows,
            "output": written_to,
            "seconds": round(time.perf_counter() - started, 3),
        }
        text = f"export_ledger: {rows:,} {export.kind} row(s) written to {written_to}"
        if written_to == "stdout":
            self.stderr.write(text)  # stdout is the CSV
        else:
            self.result(data, text)

    def _write(self, export: Export, output: str, progress) -> tuple[int, str]:
        if output == "-":
            # The raw stream: Django's wrapper would end every CSV line with a second newline.
            return write_csv(self.stdout._out, export, progress=progress), "stdout"
        path = os.path.abspath(output)
        folder = os.path.dirname(path)
        if not os.path.isdir(folder):
            raise CommandError(f"No such directory: {folder}")
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".export-", suffix=".csv.part")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
                rows = write_csv(out, export, progress=progress)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        return rows, path
