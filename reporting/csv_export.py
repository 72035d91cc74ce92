"""The CSV of an export: columns, rows streamed from the books, formula neutralisation.

Shared by the export task (reporting.services.build_export) and `manage.py export_ledger`.
Rows are read from `read_replica()` and stream with constant memory.
"""

import csv
from collections.abc import Iterable, Iterator
from datetime import datetime

from django.db import connections
from django.db.models import QuerySet

from accounts.models import Account
from ledger.models import Entry, Transaction
from ledgerflow.money import to_major
from ledgerflow.progress import ProgressCallback
from ledgerflow.routers import read_replica
from reporting.models import Export

CSV_CHUNK = 2000
# Cells a spreadsheet would evaluate as a formula (CSV injection, OWASP).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def neutralise(text: str) -> str:
    """Prefix a text cell a spreadsheet would run as a formula with `'`. Never for amounts."""
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


ENTRY_COLUMNS = [
    "created_at",
    "entry",
    "transaction",
    "account",
    "asset",
    "kind",
    "category",
    "reference",
    "amount",
    "balance_after",
    "version",
]
TRANSACTION_COLUMNS = [
    "created_at",
    "transaction",
    "kind",
    "status",
    "asset",
    "amount",
    "category",
    "reference",
    "reverses",
]


def write_csv(out, export: Export, *, progress: ProgressCallback | None = None) -> int:
    """Write the export's header and rows to the text file `out`; returns the row count.

    Rows stream from one ordered query in chunks, so memory stays flat at any size.
    `progress(rows written, None)` is called after every chunk's worth of rows.
    """
    columns, rows = (
        (ENTRY_COLUMNS, _entry_rows(export))
        if export.kind == Export.Kind.ENTRIES
        else (TRANSACTION_COLUMNS, _transaction_rows(export))
    )
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow(row)
        count += 1
        if progress and not count % CSV_CHUNK:
            progress(count, None)
    if progress:
        progress(count, None)
    return count


def count_export_rows(export: Export) -> int:
    """How many rows `write_csv` will write for `export` (one COUNT, for a progress bar)."""
    db = read_replica()
    entries = Entry.objects.using(db).filter(account_id__in=_scope(export, db))
    if export.kind == Export.Kind.ENTRIES:
        return _in_period(entries, export).count()
    txns = Transaction.objects.using(db).filter(pk__in=entries.values("transaction_id"))
    return _in_period(txns, export).count()


def _scope(export: Export, db: str) -> Iterable[int] | QuerySet:
    """Ids of the exported accounts: the one asked for, or all the owner's."""
    if export.account_id:
        return [export.account_id]
    return Account.objects.using(db).filter(owner_id=export.owner_id).values("pk")


def _in_period(qs: QuerySet, export: Export) -> QuerySet:
    if export.period_from:
        qs = qs.filter(created_at__gte=export.period_from)
    if export.period_to:
        qs = qs.filter(created_at__lt=export.period_to)
    return qs


def _entry_rows(export: Export) -> Iterator[list]:
    db = read_replica()
    entries = _in_period(Entry.objects.using(db).filter(account_id__in=_scope(export, db)), export)
    rows = entries.order_by("created_at", "pk").values_list(
        "created_at",
        "pk",
        "transaction__public_id",
        "account__public_id",
        "asset__code",
        "asset__exponent",
        "transaction__kind",
        "transaction__category",
        "transaction__reference",
        "amount",
        "balance_after",
        "account_version",
    )
    for row in _stream(rows, db):
        (created_at, pk, txn, account, asset, exponent, kind, category, reference) = row[:9]
        amount, balance_after, version = row[9:]
        yield [
            iso(created_at),
            pk,
            neutralise(txn),
            neutralise(account),
            neutralise(asset),
            neutralise(kind),
            neutralise(category),
            neutralise(reference),
            to_major(amount, exponent),
            to_major(balance_after, exponent),
            version,
        ]


def _stream(rows: QuerySet, db: str) -> Iterator[tuple]:
    """The rows of a values_list query, in chunks, with constant memory.

    On PostgreSQL straight from psycopg's (server-side, unless pgbouncer forbids it) cursor:
    these columns need none of Django's per-row converters, whose cost was most of an
    export's time. Elsewhere (SQLite returns datetimes as text) through the ORM.
    """
    if connections[db].vendor != "postgresql":
        yield from rows.iterator(chunk_size=CSV_CHUNK)
        return
    sql, params = rows.query.sql_with_params()
    with connections[db].chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while chunk := cursor.fetchmany(CSV_CHUNK):
            yield from chunk


def _transaction_rows(export: Export) -> Iterator[list]:
    db = read_replica()
    touched = Entry.objects.using(db).filter(account_id__in=_scope(export, db))
    txns = _in_period(
        Transaction.objects.using(db).filter(pk__in=touched.values("transaction_id")), export
    ).order_by("created_at", "pk")
    rows = txns.values_list(
        "created_at",
        "public_id",
        "kind",
        "status",
        "asset__code",
        "asset__exponent",
        "amount",
        "category",
        "reference",
        "reverses__public_id",
    )
    for row in _stream(rows, db):
        created_at, txn, kind, status, asset, exponent, amount, category, reference, reverses = row
        yield [
            iso(created_at),
            neutralise(txn),
            neutralise(kind),
            neutralise(status),
            neutralise(asset),
            to_major(amount, exponent),
            neutralise(category),
            neutralise(reference),
            neutralise(reverses or ""),
        ]
