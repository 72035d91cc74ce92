"""Benchmark: transfer throughput of the ledger services against raw SQL, measured in one run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/ledgerflow_bench \\
        .venv/bin/python bench/transfers.py [--transfers 4000] [--workers 4]

PostgreSQL only (it is what the ratios are about). The database is a scratch one: it is
created if missing, migrated, and its ledger tables are emptied first.

Rows of the table:
- raw SQL: the same work with psycopg and no framework (lock both rows in id order, update
  both balances, insert a transaction and two entries) on tables of its own: the ceiling.
- post_transfer, random pairs / one hot source account: the service as the API calls it
  (locks, checks, risk rules, entries with balance_after and versions, outbox event).
- post_batch: batches of 1,000 transfers all-or-nothing.
- HTTP: POST /api/v1/transfers through Django's test client (in-process, no sockets), so
  parsing, auth, idempotency and serialisation are included.
Each row reports transfers/s and its ratio to the raw SQL row of the same run.
"""

import argparse
import multiprocessing
import os
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledgerflow_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("THROTTLE_USER", "1000000/min")

import django  # noqa: E402
import psycopg  # noqa: E402

url = os.environ["DATABASE_URL"]
admin_url = url.rsplit("/", 1)[0] + "/postgres"
db_name = url.rsplit("/", 1)[1]
with psycopg.connect(admin_url, autocommit=True) as conn:
    if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone():
        conn.execute(f'CREATE DATABASE "{db_name}"')

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402

from accounts.tests.factories import AccountFactory, UserFactory  # noqa: E402
from ledger import services  # noqa: E402
from ledger.verification import verify_ledger  # noqa: E402

RAW_SETUP = """
DROP TABLE IF EXISTS bench_entry, bench_txn, bench_account;
CREATE TABLE bench_account (id bigserial PRIMARY KEY, balance bigint NOT NULL);
CREATE TABLE bench_txn (id bigserial PRIMARY KEY, amount bigint NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_entry (id bigserial PRIMARY KEY, txn_id bigint NOT NULL REFERENCES bench_txn,
                          account_id bigint NOT NULL REFERENCES bench_account,
                          amount bigint NOT NULL, balance_after bigint NOT NULL);
"""


def run_parallel(workers: int, jobs: list, work) -> float:
    """Run `work(job)` for every job on `workers` forked processes (web servers run several
    processes; threads in one process would measure Python's GIL instead). Returns seconds
    from the moment all workers are ready until the last one finishes."""
    chunks = [jobs[i::workers] for i in range(workers)]
    ctx = multiprocessing.get_context("fork")
    barrier = ctx.Barrier(workers + 1)

    def run(chunk):
        connections.close_all()  # never share the parent's connection
        barrier.wait()
        for job in chunk:
            work(job)
        connections.close_all()

    connections.close_all()
    processes = [ctx.Process(target=run, args=(chunk,)) for chunk in chunks]
    for process in processes:
        process.start()
    barrier.wait()
    started = time.perf_counter()
    for process in processes:
        process.join()
        if process.exitcode:
            raise RuntimeError(f"a bench worker failed with exit code {process.exitcode}")
    return time.perf_counter() - started


def raw_sql(n_accounts: int, pairs: list[tuple[int, int]], workers: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(RAW_SETUP)
        conn.execute(
            "INSERT INTO bench_account (balance) SELECT 1000000 FROM generate_series(1, %s)",
            [n_accounts],
        )
    local = {}

    def transfer(pair):
        if "conn" not in local:
            local["conn"] = psycopg.connect(url)
        conn = local["conn"]
        a, b = pair
        with conn.transaction():
            rows = conn.execute(
                "SELECT id, balance FROM bench_account WHERE id = ANY(%s) ORDER BY id FOR UPDATE",
                [[a + 1, b + 1]],
            ).fetchall()
            balances = dict(rows)
            balances[a + 1] -= 1
            balances[b + 1] += 1
            for pk in (a + 1, b + 1):
                conn.execute(
                    "UPDATE bench_account SET balance = %s WHERE id = %s", [balances[pk], pk]
                )
            (txn,) = conn.execute(
                "INSERT INTO bench_txn (amount) VALUES (1) RETURNING id"
            ).fetchone()
            conn.execute(
                "INSERT INTO bench_entry (txn_id, account_id, amount, balance_after) "
                "VALUES (%s, %s, -1, %s), (%s, %s, 1, %s)",
                [txn, a + 1, balances[a + 1], txn, b + 1, balances[b + 1]],
            )

    return run_parallel(workers, pairs, transfer)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--transfers", type=int, default=4000)
    parser.add_argument("--workers", type=int, default=4, help="processes")
    parser.add_argument("--accounts", type=int, default=100)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        sys.exit("bench/transfers.py measures PostgreSQL: set DATABASE_URL")

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_entry, ledger_transaction, webhooks_event_visible_to, "
            "webhooks_delivery, webhooks_event, ledger_balancesnapshot, ledger_export, "
            "ledger_riskrule, ledger_balancemonitor, ledger_idempotencykey, "
            "orders_order, accounts_account, accounts_apikey, accounts_user CASCADE"
        )
    staff = UserFactory(is_staff=True)
    accounts = [AccountFactory(owner=UserFactory()) for _ in range(args.accounts)]
    for account in accounts:
        services.post_deposit(actor=staff, account_id=account.pk, amount=Decimal("1000000"))

    rng = random.Random(1)
    n, workers = args.transfers, args.workers
    pairs = [tuple(rng.sample(range(args.accounts), 2)) for _ in range(n)]
    hot = [(0, rng.randrange(1, args.accounts)) for _ in range(n)]
    one = Decimal("0.01")

    def service(pair):
        a, b = accounts[pair[0]], accounts[pair[1]]
        services.post_transfer(actor=a.owner, from_account_id=a.pk, to_account_id=b.pk, amount=one)

    def batch(chunk):
        items = [
            services.TransferItem(
                from_account_id=accounts[a].pk, to_account_id=accounts[b].pk, amount=one
            )
            for a, b in chunk
        ]
        services.post_batch(actor=staff, items=items)

    from conftest import client_for

    clients = {}

    def http(pair):
        a, b = accounts[pair[0]], accounts[pair[1]]
        client = clients.get(a.owner_id) or clients.setdefault(a.owner_id, client_for(a.owner))
        response = client.post(
            "/api/v1/transfers",
            {"from_account": a.public_id, "to_account": b.public_id, "amount": "0.01"},
            format="json",
        )
        assert response.status_code == 201, response.content

    batches = [pairs[i : i + 1000] for i in range(0, n, 1000)]
    results = [
        ("raw SQL (psycopg, no framework), random pairs", n, raw_sql(args.accounts, pairs, workers))
    ]
    results.append(("post_transfer, random pairs", n, run_parallel(workers, pairs, service)))
    results.append(
        ("post_transfer, one hot source account", n, run_parallel(workers, hot, service))
    )
    results.append(("post_batch, 1,000 per batch, 2 processes", n, run_parallel(2, batches, batch)))
    http_n = min(n, 2000)
    results.append(
        (
            "HTTP POST /transfers (in-process client)",
            http_n,
            run_parallel(workers, pairs[:http_n], http),
        )
    )
    assert verify_ledger().ok, "verify_ledger failed after the bench"

    raw_rate = results[0][1] / results[0][2]
    print(
        f"\nTransfers on PostgreSQL, {workers} processes, {args.accounts} accounts "
        f"(machine: {os.cpu_count()} cores)\n"
    )
    print(f"{'scenario':<48} {'transfers':>9} {'seconds':>8} {'per s':>8} {'vs raw':>7}")
    for name, count, seconds in results:
        rate = count / seconds
        print(f"{name:<48} {count:>9} {seconds:>8.2f} {rate:>8.0f} {rate / raw_rate:>7.2f}")
    print("\nverify_ledger: all invariants hold")


if __name__ == "__main__":
    main()
