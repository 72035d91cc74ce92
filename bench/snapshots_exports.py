"""Benchmark: balance snapshots over many accounts and a streamed CSV export of many entries.

    .venv/bin/python bench/snapshots_exports.py                      # 100,000 accounts, 1M entries
    .venv/bin/python bench/snapshots_exports.py --accounts 10000 --entries 100000   # quicker

The intended target is PostgreSQL: set DATABASE_URL to a *scratch* database (it is migrated and
filled; the bench refuses a database that already holds entries). Without DATABASE_URL it runs
on SQLite in a temporary directory that is deleted afterwards.

To be fast, the ledger is bulk-inserted directly, bypassing the services: one opening deposit
from the USD world account per account, then random one-account-to-another transfers until the
bench accounts hold `--entries` entries. Every transaction balances and every entry carries a
consistent `balance_after` and account version; account balances are then set from the entries
in one statement, and `verify_ledger` confirms the result before anything is measured.

Measured: `take_snapshots` with every account changed (first run) and with none changed
(second run); the export of all the bench user's entries (the Celery task's service) in a
fresh subprocess, as rows/s, ru_maxrss growth over that process's baseline, and tracemalloc's
peak in a second run (tracemalloc slows Python, so its run is not the one timed).
"""

import argparse
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TEMP_VAR_DIR = None
if not os.environ.get("DATABASE_URL") and not os.environ.get("BENCH_VAR_DIR"):
    # SQLite: a throw-away VAR_DIR (database and export files), shared with the subprocess.
    TEMP_VAR_DIR = os.environ["BENCH_VAR_DIR"] = tempfile.mkdtemp(prefix="ledgerflow-bench-")
if os.environ.get("BENCH_VAR_DIR"):
    os.environ["VAR_DIR"] = os.environ["BENCH_VAR_DIR"]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account, Asset, User  # noqa: E402
from accounts.services import system_account  # noqa: E402
from ledger.models import Entry, Transaction  # noqa: E402
from ledger.verification import verify_ledger  # noqa: E402
from reporting.models import BalanceSnapshot, Export  # noqa: E402
from reporting.services import build_export, take_snapshots  # noqa: E402

OPENING = 1_000_000  # minor units: far more than random 1..100 transfers can ever drain
CHUNK = 10_000  # transactions per INSERT round and database transaction


def maxrss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def insert_rows(model, rows: list[dict]) -> None:
    """Raw multi-row insert (the ORM's per-object overhead would dominate the bench). Columns
    the rows leave out get the model field's default, so new columns do not break it."""
    given = rows[0].keys()
    fields = [f for f in model._meta.concrete_fields if f.attname in given or not f.primary_key]
    defaults = {
        f.attname: f.get_db_prep_save(f.get_default(), connection)
        for f in fields
        if f.attname not in given
    }
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    sql = f"INSERT INTO {model._meta.db_table} ({columns}) VALUES ({placeholders})"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.executemany(
            sql,
            [tuple(row.get(f.attname, defaults.get(f.attname)) for f in fields) for row in rows],
        )


def build_ledger(accounts: int, entries: int, seed: int) -> User:
    rng = random.Random(seed)
    usd = Asset.objects.get(code="USD")
    world = system_account(asset=usd, system_code=Account.System.WORLD)
    owner = User.objects.create_user(email=f"bench-{uuid.uuid4().hex[:8]}@example.com")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for start in range(0, accounts, CHUNK):
        with transaction.atomic():
            insert_rows(
                Account,
                [
                    {
                        "public_id": f"acc_{uuid.uuid4().hex[:24]}",
                        "owner_id": owner.pk,
                        "name": f"bench {i}",
                        "asset_id": usd.pk,
                        "created_at": now,
                    }
                    for i in range(start, min(start + CHUNK, accounts))
                ],
            )
    ids = list(Account.objects.filter(owner=owner).order_by("pk").values_list("pk", flat=True))
    balance = dict.fromkeys([*ids, world.pk], 0)
    version = dict.fromkeys([*ids, world.pk], 0)
    base = timezone.now() - timedelta(days=30)
    last_txn = Transaction.objects.order_by("-pk").values_list("pk", flat=True).first()
    next_txn_id = (last_txn or 0) + 1

    def moves():
        for pk in ids:  # 1 bench entry each
            yield world.pk, pk, OPENING
        for _ in range((entries - accounts) // 2):  # 2 bench entries each
            source, target = rng.sample(ids, 2)
            yield source, target, rng.randint(1, 100)

    batch: list[tuple[int, int, int]] = []
    for move in moves():
        batch.append(move)
        if len(batch) == CHUNK:
            next_txn_id = _insert(batch, usd.pk, balance, version, base, next_txn_id)
            batch = []
    if batch:
        _insert(batch, usd.pk, balance, version, base, next_txn_id)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":  # ids were given explicitly: move the sequence on
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('ledger_transaction', 'id'), MAX(id)) "
                "FROM ledger_transaction"
            )
        cursor.execute(
            """UPDATE accounts_account SET
                 balance = COALESCE((SELECT SUM(e.amount) FROM ledger_entry e
                                      WHERE e.account_id = accounts_account.id), 0),
                 version = (SELECT COUNT(*) FROM ledger_entry e
                             WHERE e.account_id = accounts_account.id)
               WHERE owner_id = %s OR id = %s""",
            [owner.pk, world.pk],
        )
    return owner


def _insert(batch, asset_id, balance, version, base, first_id) -> int:
    """One database transaction: len(batch) transfers with ids from `first_id`, 2 entries each."""
    when = connection.ops.adapt_datetimefield_value
    txns, entries = [], []
    for txn_id, (source, target, amount) in enumerate(batch, start=first_id):
        created_at = when(base + timedelta(milliseconds=txn_id))
        txns.append(
            {
                "id": txn_id,
                "public_id": f"txn_{uuid.uuid4().hex[:24]}",
                "kind": "transfer",
                "status": "posted",
                "asset_id": asset_id,
                "amount": amount,
                "reference": f"bench {txn_id}",
                "created_at": created_at,
            }
        )
        for pk, signed in ((source, -amount), (target, amount)):
            balance[pk] += signed
            version[pk] += 1
            entries.append(
                {
                    "transaction_id": txn_id,
                    "account_id": pk,
                    "asset_id": asset_id,
                    "amount": signed,
                    "balance_after": balance[pk],
                    "account_version": version[pk],
                    "created_at": created_at,
                }
            )
    with transaction.atomic():
        insert_rows(Transaction, txns)
        insert_rows(Entry, entries)
        if connection.vendor == "postgresql" and first_id == 1:
            # Fresh tables have no statistics: without them the deferred balance trigger
            # would seq-scan ledger_entry for every row at COMMIT. ANALYZE counts this
            # transaction's own rows, so run it before committing the first chunk.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE ledger_entry; ANALYZE ledger_transaction;")
    return first_id + len(batch)


def timed(func, *args, **kwargs):
    started = time.perf_counter()
    result = func(*args, **kwargs)
    return result, time.perf_counter() - started


def export_phase(owner_id: int) -> None:
    """Run in a fresh process: one timed export, then one under tracemalloc. Prints JSON."""
    baseline = maxrss_mib()
    plain = Export.objects.create(owner_id=owner_id, kind=Export.Kind.ENTRIES)
    _, seconds = timed(build_export, export_id=plain.pk)
    after = maxrss_mib()
    traced = Export.objects.create(owner_id=owner_id, kind=Export.Kind.ENTRIES)
    tracemalloc.start()
    build_export(export_id=traced.pk)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    plain.refresh_from_db()
    print(
        json.dumps(
            {
                "status": plain.status,
                "rows": plain.row_count,
                "seconds": seconds,
                "bytes": plain.file.size,
                "maxrss_growth_mib": after - baseline,
                "tracemalloc_peak_mib": peak / 2**20,
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="entries to export")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--export-phase", type=int, metavar="OWNER_ID", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.export_phase:
        export_phase(args.export_phase)
        return
    if args.entries < args.accounts:
        parser.error("--entries must be at least --accounts (one opening entry each)")

    db = connection.settings_dict
    print(f"database: {connection.vendor} {db['NAME']}")
    call_command("migrate", verbosity=0)
    if Entry.objects.exists():
        sys.exit("this database already holds entries: point DATABASE_URL at a scratch database")

    owner, build_s = timed(build_ledger, args.accounts, args.entries, args.seed)
    result, verify_s = timed(verify_ledger)
    assert result.ok, result.counts
    bench_entries = Entry.objects.filter(account__owner=owner).count()
    assert bench_entries == args.entries, bench_entries

    first, first_s = timed(take_snapshots)
    second, second_s = timed(take_snapshots)
    assert first == Account.objects.count() == BalanceSnapshot.objects.count(), first
    assert second == 0, second

    child = subprocess.run(
        [sys.executable, __file__, "--export-phase", str(owner.pk)],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ,
    )
    export = json.loads(child.stdout.strip().splitlines()[-1])
    assert export["status"] == "completed", export
    assert export["rows"] == args.entries, export

    rows = [
        ("build ledger (bulk insert)", f"{args.entries:,} entries", f"{build_s:.1f} s"),
        ("verify_ledger", "all invariants hold", f"{verify_s:.2f} s"),
        ("take_snapshots, all changed", f"{first:,} rows", f"{first_s:.2f} s"),
        ("take_snapshots, none changed", f"{second:,} rows", f"{second_s:.2f} s"),
        (
            "export entries to CSV",
            f"{export['rows']:,} rows, {export['bytes'] / 2**20:.0f} MiB",
            f"{export['seconds']:.1f} s = {export['rows'] / export['seconds']:,.0f} rows/s",
        ),
        ("  memory: ru_maxrss growth", "", f"{export['maxrss_growth_mib']:.1f} MiB"),
        ("  memory: tracemalloc peak", "", f"{export['tracemalloc_peak_mib']:.2f} MiB"),
    ]
    print(f"accounts: {args.accounts:,} (+1 world account)")
    width = [max(len(r[i]) for r in rows) for i in range(3)]
    for name, size, value in rows:
        print(f"{name:<{width[0]}}  {size:<{width[1]}}  {value:>{width[2]}}")


if __name__ == "__main__":
    try:
        main()
    finally:
        if TEMP_VAR_DIR:
            shutil.rmtree(TEMP_VAR_DIR, ignore_errors=True)
