"""`load_history`: bulk-load a long, valid ledger history (benchmarks, capacity tests).

    manage.py load_history --entries 1000000 --accounts 100 [--days 30] [--owner EMAIL]

PostgreSQL only. Creates `--accounts` new customer accounts of one owner (created unless it
exists), funds each with an opening deposit from the asset's world account, then posts random
transfers between them until the command has written `--entries` entries. Everything is
generated inside the database with `generate_series` and window functions, in one database
transaction: a million entries take seconds, not the hours the services would.

What makes it a *valid* history, not just rows:
- every transaction has two entries that sum to zero (a transfer of 1..100 minor units);
- each entry's `balance_after` is the running sum of its account's entries and its
  `account_version` runs 1, 2, 3 … with no gaps (continuing the world account's own);
- account balances and versions are set from those entries; the opening deposit is large
  enough that no account can go below zero whatever the random draws;
- the world account is locked (`SELECT … FOR UPDATE`) for the whole load, as a deposit
  would, so concurrent movements on it wait instead of interleaving versions;
- created_at grows with the sequence over the last `--days` days, so statements and
  balance-as-of queries see a realistic spread of instants.
The database's own commit-time balance trigger still checks every entry, and the command
runs `verify_ledger` afterwards (skip with `--no-verify`). No outbox events are written: the
history is a backfill, not activity anyone subscribed to.
"""

import secrets
import time
from datetime import timedelta

from django.core.management.base import CommandError
from django.db import connection, transaction
from django.utils import timezone

from accounts.locks import lock_accounts
from accounts.models import Account, Asset, User
from accounts.services import system_account
from ledger.models import Entry, Transaction
from ledger.verification import verify_ledger
from ledgerflow.progress import ProgressCommand

MAX_TRANSFER = 100  # minor units; the opening deposit covers the worst case of draws
# The phases progress reports: each is one or two set-based statements, whatever the size.
STEPS = (
    "accounts",
    "opening deposits",
    "transfers",
    "transaction ids",
    "transactions",
    "entries",
    "checks",
    "balances",
    "analyze",
    "verify",
)


def _insert_columns(model, given: dict[str, str]) -> tuple[str, str, list]:
    """Columns and SELECT expressions for an INSERT … SELECT into `model`'s table.

    `given` maps attnames to SQL expressions; every other concrete column (except the primary
    key when not given) gets its model default as a parameter, so a field added later with a
    default does not break the loader.
    """
    columns, expressions, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.attname in given:
            expressions.append(given[field.attname])
        elif field.primary_key:
            continue
        else:
            expressions.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
        columns.append(connection.ops.quote_name(field.column))
    return ", ".join(columns), ", ".join(expressions), params


class Command(ProgressCommand):
    help = "Bulk-load a long valid history of transfers (PostgreSQL), then verify the ledger."

    def add_arguments(self, parser):
        super().add_arguments(parser)  # --json, --progress, --progress-interval
        parser.add_argument("--entries", type=int, default=1_000_000, help="entries to write")
        parser.add_argument("--accounts", type=int, default=100, help="new accounts to spread over")
        parser.add_argument("--asset", default="USD")
        parser.add_argument("--owner", help="owner's email (created if missing)")
        parser.add_argument("--days", type=float, default=30.0, help="history span, ending now")
        parser.add_argument("--seed", type=float, default=0.42, help="random seed in [-1, 1]")
        parser.add_argument("--no-verify", action="store_true", help="skip verify_ledger")

    def handle(self, *args, **options):
        if connection.vendor != "postgresql":
            raise CommandError("load_history runs on PostgreSQL only (set DATABASE_URL).")
        n_accounts, n_entries = options["accounts"], options["entries"]
        if n_accounts < 2:
            raise CommandError("--accounts must be at least 2.")
        if n_entries < 2 * n_accounts or n_entries % 2:
            raise CommandError(
                "--entries must be even and at least 2 × --accounts "
                "(each account's opening deposit writes two entries)."
            )
        if not -1 <= options["seed"] <= 1:
            raise CommandError("--seed must be within [-1, 1] (PostgreSQL setseed).")
        asset = Asset.objects.filter(code=options["asset"].upper()).first()
        if asset is None:
            raise CommandError(f"Unknown asset {options['asset']!r}.")

        started = time.perf_counter()
        transfers = (n_entries - 2 * n_accounts) // 2
        # No account can drain: even if every transfer took the maximum from one account.
        opening = MAX_TRANSFER * transfers + 10**6
        end = timezone.now()
        start = end - timedelta(days=options["days"])
        total_txns = n_accounts + transfers
        step_seconds = (end - start).total_seconds() / total_txns

        with self.progress("loading", unit="steps", total=len(STEPS)) as self._progress:
            owner, verify_s = self._run(
                options,
                asset=asset,
                n_accounts=n_accounts,
                transfers=transfers,
                opening=opening,
                start=start,
                step_seconds=step_seconds,
            )
        load_s = time.perf_counter() - started - (verify_s or 0)
        summary = {
            "owner_id": owner.pk,
            "owner_email": owner.email,
            "accounts": n_accounts,
            "entries": n_entries,
            "transactions": total_txns,
            "first_at": start.isoformat(),
            "last_at": end.isoformat(),
            "load_seconds": round(load_s, 2),
            "verify_seconds": None if verify_s is None else round(verify_s, 2),
        }
        verified = "not verified" if verify_s is None else f"verified in {verify_s:.1f} s"
        self.result(
            summary,
            f"load_history: {n_entries:,} entries in {total_txns:,} transactions on "
            f"{n_accounts:,} accounts of {owner.email} in {load_s:.1f} s; {verified}",
        )

    def _step(self, name: str) -> None:
        """Report that phase `name` begins (the bar shows it; log lines name it)."""
        self._progress.update(STEPS.index(name), step=name)

    def _run(self, options, *, asset, n_accounts, transfers, opening, start, step_seconds):
        self._step("accounts")
        with transaction.atomic():
            world = system_account(asset=asset, system_code=Account.System.WORLD)
            email = options["owner"] or f"history-{secrets.token_hex(4)}@bench.invalid"
            owner = User.objects.filter(email=email).first()
            if owner is None:
                owner = User.objects.create_user(email=email)  # no password: unusable
            accounts = Account.objects.bulk_create(
                [Account(owner=owner, asset=asset, name=f"history {i}") for i in range(n_accounts)]
            )
            ids = [account.pk for account in accounts]
            locked = lock_accounts([world.pk, *ids])
            if len(locked) != n_accounts + 1:
                raise CommandError("the new accounts or the world account vanished")
            with connection.cursor() as cursor:
                self._load(
                    cursor,
                    world_id=world.pk,
                    ids=ids,
                    asset_id=asset.pk,
                    transfers=transfers,
                    opening=opening,
                    start=start,
                    step_seconds=step_seconds,
                    seed=options["seed"],
                )
        self._step("analyze")
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ledger_entry; ANALYZE ledger_transaction;")

        verify_s = None
        if not options["no_verify"]:
            self._step("verify")
            verify_started = time.perf_counter()
            result = verify_ledger()
            verify_s = time.perf_counter() - verify_started
            if not result.ok:
                raise CommandError(f"verify_ledger failed after the load: {result.counts}")
        self._progress.update(len(STEPS), step="")
        return owner, verify_s

    def _load(
        self, cursor, *, world_id, ids, asset_id, transfers, opening, start, step_seconds, seed
    ):
        n = len(ids)
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        skip_triggers = bool(cursor.fetchone()[0])
        if skip_triggers:
            # The per-row commit-time balance trigger costs more than the load itself; as
            # a superuser, skip this transaction's triggers and run the same checks once,
            # set-based, before committing (_check_new_rows).
            cursor.execute("SET LOCAL session_replication_role = replica")
        # ON COMMIT DROP ends them with the transaction; inside an outer one (a test) they live on.
        cursor.execute("DROP TABLE IF EXISTS lh_leg, lh_move, lh_txn")
        cursor.execute(
            "CREATE TEMP TABLE lh_leg (seq bigint, leg smallint, account_id bigint, amount bigint)"
            " ON COMMIT DROP"
        )
        # Opening deposits: transaction seq 1..n, world pays account i.
        self._step("opening deposits")
        cursor.execute(
            """INSERT INTO lh_leg
               SELECT g, 0, %s, -%s FROM generate_series(1, %s) g
               UNION ALL
               SELECT g, 1, (%s::bigint[])[g], %s FROM generate_series(1, %s) g""",
            [world_id, opening, n, ids, opening, n],
        )
        # Transfers: seq n+1..n+T, a random source and a different random target.
        self._step("transfers")
        cursor.execute("SELECT setseed(%s)", [seed])
        cursor.execute(
            """CREATE TEMP TABLE lh_move ON COMMIT DROP AS
               SELECT g AS seq, s, CASE WHEN d >= s THEN d + 1 ELSE d END AS d, amount
                 FROM (SELECT g, 1 + floor(random() * %s)::int AS s,
                              1 + floor(random() * %s)::int AS d,
                              1 + floor(random() * %s)::bigint AS amount
                         FROM generate_series(%s, %s) g) draws""",
            [n, n - 1, MAX_TRANSFER, n + 1, n + transfers],
        )
        cursor.execute(
            """INSERT INTO lh_leg
               SELECT seq, 0, (%s::bigint[])[s], -amount FROM lh_move
               UNION ALL
               SELECT seq, 1, (%s::bigint[])[d], amount FROM lh_move""",
            [ids, ids],
        )
        self._step("transaction ids")
        cursor.execute(
            """CREATE TEMP TABLE lh_txn ON COMMIT DROP AS
               SELECT seq, nextval(pg_get_serial_sequence('ledger_transaction', 'id')) AS id,
                      amount,
                      %s::timestamptz + (seq - 1) * make_interval(secs => %s) AS created_at
                 FROM (SELECT seq, amount FROM lh_leg WHERE leg = 1 ORDER BY seq) legs""",
            [start, step_seconds],
        )
        cursor.execute("ALTER TABLE lh_txn ADD PRIMARY KEY (seq)")
        columns, select, params = _insert_columns(
            Transaction,
            {
                "id": "t.id",
                "public_id": "'txn_' || substr(md5(t.id::text || random()::text), 1, 24)",
                "kind": "CASE WHEN t.seq <= %s THEN %s ELSE %s END",
                "status": "%s",
                "asset_id": "%s",
                "amount": "t.amount",
                "reference": "CASE WHEN t.seq <= %s THEN 'opening deposit' ELSE 'history' END",
                "created_at": "t.created_at",
            },
        )
        # The opening deposits are deposits; everything after them transfers.
        kinds = [n, Transaction.Kind.DEPOSIT, Transaction.Kind.TRANSFER]
        self._step("transactions")
        head = [*kinds, Transaction.Status.POSTED, asset_id, n]
        cursor.execute(
            f"INSERT INTO ledger_transaction ({columns}) "  # noqa: S608 - columns from the model  # nosec B608
            f"SELECT {select} FROM lh_txn t ORDER BY t.seq",
            [*head, *params],
        )
        columns, select, params = _insert_columns(
            Entry,
            {
                "transaction_id": "t.id",
                "account_id": "l.account_id",
                "asset_id": "%s",
                "amount": "l.amount",
                "balance_after": "a.balance + SUM(l.amount) OVER w",
                "account_version": "a.version + ROW_NUMBER() OVER w",
                "created_at": "t.created_at",
            },
        )
        self._step("entries")
        cursor.execute(
            f"INSERT INTO ledger_entry ({columns}) "  # noqa: S608 - columns from the model  # nosec B608
            f"SELECT {select} FROM lh_leg l JOIN lh_txn t USING (seq) "
            "JOIN accounts_account a ON a.id = l.account_id "
            "WINDOW w AS (PARTITION BY l.account_id ORDER BY l.seq, l.leg "
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) "
            "ORDER BY l.seq, l.leg",
            [asset_id, *params],
        )
        self._step("checks")  # without the fast path, the triggers checked every row
        if skip_triggers:
            cursor.execute("SET LOCAL session_replication_role = origin")
            self._check_new_rows(cursor)
        self._step("balances")
        cursor.execute(
            """UPDATE accounts_account a
                  SET balance = a.balance + d.total, version = a.version + d.entries
                 FROM (SELECT account_id, SUM(amount) AS total, COUNT(*) AS entries
                         FROM lh_leg GROUP BY account_id) d
                WHERE a.id = d.account_id"""
        )

    def _check_new_rows(self, cursor) -> None:
        """What the skipped triggers check (ledger migration 0002), over the new rows at once:
        each new transaction sums to zero per asset, each entry has its account's asset and
        points at an existing transaction and account."""
        cursor.execute(
            """SELECT
                 (SELECT COUNT(*) FROM (SELECT 1 FROM ledger_entry e JOIN lh_txn t
                                          ON e.transaction_id = t.id
                                        GROUP BY e.transaction_id, e.asset_id
                                       HAVING SUM(e.amount) <> 0) unbalanced),
                 (SELECT COUNT(*) FROM ledger_entry e JOIN lh_txn t ON e.transaction_id = t.id
                    LEFT JOIN accounts_account a ON a.id = e.account_id
                    LEFT JOIN ledger_transaction x ON x.id = e.transaction_id
                   WHERE a.id IS NULL OR x.id IS NULL OR a.asset_id <> e.asset_id),
                 (SELECT COUNT(*) FROM ledger_entry e JOIN lh_txn t ON e.transaction_id = t.id)"""
        )
        unbalanced, orphans, written = cursor.fetchone()
        if unbalanced or orphans:
            raise CommandError(
                f"refusing to commit: {unbalanced} unbalanced transaction(s), "
                f"{orphans} entry(ies) with a wrong asset or a missing row"
            )
        cursor.execute("SELECT COUNT(*) FROM lh_leg")
        if written != cursor.fetchone()[0]:
            raise CommandError("refusing to commit: not every generated entry was written")
