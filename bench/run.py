"""`make bench`: LedgerFlow under load on PostgreSQL + Redis, each figure next to its reference.

    .venv/bin/python bench/run.py [--quick] [--only transfer_random,balance] [--duration 20]
                                  [--pgbouncer [DSN|PORT]] [--workers 3 --threads 1] [--tune]

What one run does (bench/README.md has the details and the latest figures):
1. checks that wrk, pgbench and psql exist (it installs nothing);
2. recreates the scratch database (DATABASE_URL, default .../lf_bench; its name must contain
   "bench") from a migrated template, bulk-loads a long history (`load_history`), seeds 1,000
   funded customers through the services, a staff user with an API key and JWT access tokens;
3. starts gunicorn and a Celery worker (Redis broker), waits for /health;
4. drives each scenario from separate processes (wrk + bench/lua, pgbench + bench/sql,
   forked service processes) and measures in-process what has no HTTP face;
5. stops what it started (by PID, also on failure or Ctrl-C), runs verify_ledger, prints ONE
   table and writes bench/results/<UTC stamp>.json. Exit status 1 on any 5xx, a failed
   scenario or a verify_ledger failure; 2 when the bench itself could not run.
"""

import argparse
import hashlib
import json
import multiprocessing
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from harness import BenchError  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/lf_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/2"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/1"
# Chosen by measurement on the 2-core development machine (bench/README.md, "gunicorn").
DEFAULT_WORKERS, DEFAULT_THREADS = 3, 1
CUSTOMERS = 1000
CONNECTIONS = 16
SERVICE_PROCESSES = 16
BATCH_SIZE = 1000
NONCE = "{nonce}"  # in wrk script arguments: replaced by a fresh nonce for each wrk run


@dataclass(frozen=True)
class Scenario:
    title: str
    reference: str | None = None  # scenario whose throughput this one is divided by
    target: str = ""  # as the issue states it
    needs: frozenset = frozenset()  # "app", "history", "snapshot_accounts"


SCENARIOS: dict[str, Scenario] = {
    "health": Scenario("GET /health (framework floor)", needs=frozenset({"app"})),
    "raw_random": Scenario("raw SQL transfer, random pairs (pgbench)"),
    "raw_hot": Scenario("raw SQL transfer, hot account (pgbench)"),
    "transfer_random": Scenario(
        "POST /transfers, random pairs", "raw_random", ">= 0.33x raw", frozenset({"app"})
    ),
    "transfer_hot": Scenario(
        "POST /transfers, hot account", "raw_hot", ">= 0.5x raw hot", frozenset({"app"})
    ),
    "service_transfer": Scenario(
        f"post_transfer, {SERVICE_PROCESSES} processes", "raw_random", ">= 0.5x raw"
    ),
    "sql_per_transfer": Scenario("SQL round trips per POST /transfers", target="<= 6"),
    "batch": Scenario(
        f"POST /transfers/batch of {BATCH_SIZE:,}", "raw_random", ">= 4x raw", frozenset({"app"})
    ),
    "balance": Scenario(
        "GET balance", "health", ">= 0.5x health, p99 < 10 ms", frozenset({"app", "history"})
    ),
    "balance_asof": Scenario(
        "GET balance?at=", target="p99 < 10 ms", needs=frozenset({"app", "history"})
    ),
    "statement": Scenario(
        "GET entries page (created_before)",
        target="p99 < 20 ms",
        needs=frozenset({"app", "history"}),
    ),
    "order": Scenario("POST /orders", needs=frozenset({"app"})),
    "webhooks": Scenario("webhook deliveries per worker process", needs=frozenset({"app"})),
    "snapshot": Scenario(
        "take_snapshots, all changed", target="< 5 s", needs=frozenset({"snapshot_accounts"})
    ),
    "export": Scenario(
        "CSV export of entries",
        target=">= 100,000 rows/s, RSS < 200 MB",
        needs=frozenset({"history"}),
    ),
}


@dataclass
class Result:
    name: str
    throughput: float | None = None
    unit: str = "/s"
    p50_ms: float | None = None
    p99_ms: float | None = None
    count: int = 0  # requests, transactions, deliveries, rows
    non_2xx: int = 0
    server_errors: int = 0  # 5xx (or an unexpected exception in-process)
    ratio: float | None = None
    passed: bool | None = None
    error: str | None = None
    load_avg: float | None = None
    extra: dict = field(default_factory=dict)


@dataclass
class Config:
    duration: float
    warmup: float
    history_entries: int
    history_accounts: int
    snapshot_accounts: int
    webhook_events: int
    webhook_endpoints: int
    workers: int
    threads: int
    celery_concurrency: int
    quick: bool


# --- setup ------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/run.py",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="short runs, small data (~2 min)")
    parser.add_argument(
        "--only",
        metavar="SCENARIO[,..]",
        help=f"run these only (+ their references): {', '.join(SCENARIOS)}",
    )
    parser.add_argument(
        "--duration", type=float, help="seconds per load scenario (default 20, quick 5)"
    )
    parser.add_argument(
        "--pgbouncer",
        nargs="?",
        const="auto",
        metavar="DSN|PORT",
        help="run the app through pgbouncer (transaction mode): a DSN, a port on 127.0.0.1, "
        "or nothing to use deploy/pgbouncer/ (port 6432)",
    )
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=DEFAULT_THREADS, help=">1: gthread worker class"
    )
    parser.add_argument("--celery-concurrency", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--fresh", action="store_true", help="re-migrate the template database")
    parser.add_argument(
        "--tune",
        action="store_true",
        help="compare gunicorn worker counts/classes on health, transfers and balance reads",
    )
    parser.add_argument(
        "--tune-configs",
        default="2x1,3x1,4x1,2x4,3x4,4x2",
        metavar="WxT,..",
        help="--tune's gunicorn configurations: workers x threads (1 thread: sync)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not write bench/results/*.json")
    args = parser.parse_args(argv)
    if args.only:
        names = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = [name for name in names if name not in SCENARIOS]
        if unknown:
            parser.error(f"unknown scenario(s) {', '.join(unknown)}; known: {', '.join(SCENARIOS)}")
        args.only = names
    return args


def make_config(args: argparse.Namespace) -> Config:
    quick = args.quick
    return Config(
        duration=args.duration or (5 if quick else 20),
        warmup=1 if quick else 3,
        history_entries=100_000 if quick else 1_000_000,
        history_accounts=100,
        snapshot_accounts=10_000 if quick else 100_000,
        webhook_events=100 if quick else 250,
        webhook_endpoints=4,
        workers=args.workers,
        threads=args.threads,
        celery_concurrency=args.celery_concurrency,
        quick=quick,
    )


def selected(args: argparse.Namespace) -> list[str]:
    if args.tune:
        return ["health", "transfer_random", "balance"]
    if not args.only:
        return list(SCENARIOS)
    wanted = set(args.only)
    wanted |= {SCENARIOS[name].reference for name in args.only if SCENARIOS[name].reference}
    return [name for name in SCENARIOS if name in wanted]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def with_port(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1].rsplit(":", 1)[0] if ":" in netloc[-1] else netloc[-1]
    creds = f"{netloc[0]}@" if len(netloc) == 2 else ""
    return urlunsplit(parts._replace(netloc=f"{creds}{host}:{port}"))


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def bench_env(database_url: str, var_dir: Path, nonce: str) -> dict[str, str]:
    """The environment of every process of the run (app, worker, seeding, children)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL,
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL") or DEFAULT_BROKER_URL,
        "DJANGO_SETTINGS_MODULE": "ledgerflow.settings",
        "DEBUG": "false",  # DEBUG keeps every query in memory: not production's cost
        "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback
        "SECRET_KEY": secrets.token_urlsafe(48),  # one per run, shared by its processes
        "VAULT_ADDRESS": "0x" + "be" * 20,  # production settings refuse the zero address
        "LOG_LEVEL": "WARNING",
        "THROTTLE_USER": "100000000/min",  # limits lifted: nothing may be refused
        "THROTTLE_ANON": "100000000/min",
        "MAX_PENDING_ORDERS": "100000000",
        "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",  # the receiver is on 127.0.0.1
        "JWT_ACCESS_MINUTES": "600",
        "CACHE_KEY_PREFIX": f"lfbench-{nonce}",
        "VAR_DIR": str(var_dir),
        "CELERY_TASK_ALWAYS_EAGER": "false",
    }
    env.pop("DATABASE_REPLICA_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return env


def migrations_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(ROOT.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def recreate_database(url: str, env: dict[str, str], fresh: bool) -> float:
    """DROP and CREATE the scratch database from a template migrated once per set of
    migration files (a fresh `migrate` costs ~12 s here; a template copy ~1 s)."""
    import psycopg

    started = time.perf_counter()
    name = database_name(url)
    template = f"{name}_template"
    admin = with_database(url, "postgres")
    wanted = migrations_hash()
    with psycopg.connect(admin, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            [template],
        ).fetchone()
        if fresh or row is None or row[0] != wanted:
            print(f"  migrating template database {template} (migrations changed)", flush=True)
            conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{template}"')
            done = subprocess.run(
                [sys.executable, str(ROOT / "manage.py"), "migrate", "--noinput", "-v0"],
                cwd=ROOT,
                env={**env, "DATABASE_URL": with_database(url, template)},
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                conn.execute(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
                raise BenchError(f"migrate failed:\n{done.stdout}\n{done.stderr}")
            conn.execute(f"COMMENT ON DATABASE \"{template}\" IS '{wanted}'")
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    return time.perf_counter() - started


def resolve_pgbouncer(option: str, url: str, processes: harness.Processes, env: dict) -> str:
    """The app's DATABASE_URL through pgbouncer (transaction pooling: no server-side cursors)."""
    import psycopg

    if option == "auto":
        scripts = sorted((ROOT / "deploy" / "pgbouncer").glob("*.sh"))
        starters = [
            s for s in scripts if any(w in s.name for w in ("start", "run", "up"))
        ] or scripts
        if starters:
            print(f"  starting pgbouncer with {starters[0].relative_to(ROOT)}", flush=True)
            done = subprocess.run(
                ["bash", str(starters[0])],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode:
                raise BenchError(f"{starters[0]} failed:\n{done.stdout}\n{done.stderr}")
        dsn = with_port(url, 6432)
    elif option.isdigit():
        dsn = with_port(url, int(option))
    else:
        dsn = option
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise BenchError(
            f"pgbouncer at {dsn} does not answer ({exc}).\nStart pgbouncer in transaction mode "
            "in front of the primary (deploy/pgbouncer/ when present) or pass --pgbouncer DSN|PORT."
        ) from exc
    joiner = "&" if "?" in dsn else "?"
    return f"{dsn}{joiner}DISABLE_SERVER_SIDE_CURSORS=true"


# --- data (Django, in this process) ------------------------------------------------------------


@dataclass
class Data:
    customers: list = field(default_factory=list)  # [(account pk, public_id, owner pk, auth)]
    customers_file: Path | None = None
    staff_api_key: str = ""
    hooks_user_id: int | None = None
    hooks_accounts: list = field(default_factory=list)
    history: dict | None = None
    history_file: Path | None = None
    snapshot_load: dict | None = None
    setup_seconds: dict = field(default_factory=dict)


def load_history(entries: int, accounts: int, label: str) -> dict:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command(
        "load_history",
        entries=entries,
        accounts=accounts,
        owner=f"{label}-{secrets.token_hex(4)}@bench.invalid",
        json=True,
        no_verify=True,
        stdout=out,
    )
    return json.loads(out.getvalue().strip().splitlines()[-1])


def access_token(user) -> str:
    """An access token as POST /auth/token issues it (with the staff claim, so a customer's
    request on the hot endpoints reads no user row, as in production)."""
    from accounts.authentication import token_pair_for

    return str(token_pair_for(user).access_token)


def seed(data: Data, run_dir: Path, config: Config, needs: set[str]) -> None:
    """1,000 customers with one funded USD account each, funded by ONE batch through the
    services; a staff user (superuser: every per-endpoint permission) with an API key; a
    webhook user with two accounts; the history (and the snapshot accounts) when needed."""
    from django.contrib.auth.hashers import make_password

    from accounts.models import Account, Asset, User
    from accounts.services import create_api_key, system_account
    from ledger import services

    if "history" in needs:
        started = time.perf_counter()
        data.history = load_history(config.history_entries, config.history_accounts, "history")
        data.setup_seconds["load_history"] = time.perf_counter() - started
        print(
            f"  history: {data.history['entries']:,} entries on {data.history['accounts']} "
            f"accounts in {data.setup_seconds['load_history']:.1f} s",
            flush=True,
        )
    if "snapshot_accounts" in needs:
        started = time.perf_counter()
        n = config.snapshot_accounts
        data.snapshot_load = load_history(2 * n, n, "snapshots")
        data.setup_seconds["snapshot_accounts"] = time.perf_counter() - started
        print(
            f"  snapshot set: {n:,} funded accounts in "
            f"{data.setup_seconds['snapshot_accounts']:.1f} s",
            flush=True,
        )

    started = time.perf_counter()
    usd = Asset.objects.get(code="USD")
    world = system_account(asset=usd, system_code=Account.System.WORLD)
    tag = secrets.token_hex(3)
    staff = User.objects.create_user(
        email=f"bench-staff-{tag}@bench.invalid", is_staff=True, is_superuser=True
    )
    _, raw_key = create_api_key(actor=staff, name="bench")
    data.staff_api_key = f"Api-Key {raw_key}"
    unusable = make_password(None)
    users = User.objects.bulk_create(
        [
            User(email=f"bench-{i}-{tag}@bench.invalid", password=unusable)
            for i in range(CUSTOMERS + 1)
        ]
    )
    customers, hooks_user = users[:CUSTOMERS], users[CUSTOMERS]
    accounts = Account.objects.bulk_create(
        [Account(owner=user, asset=usd, name=f"bench {i}") for i, user in enumerate(customers)]
        + [Account(owner=hooks_user, asset=usd, name=f"hooks {i}") for i in range(2)]
    )
    # One post_batch from the world account (money in), not a journal: a journal of 1,000
    # legs builds per-viewer payloads of every leg for every viewer, O(n^2) (~90 s here).
    funding = Decimal("1000000.00")
    items = [
        services.TransferItem(from_account_id=world.pk, to_account_id=a.pk, amount=funding)
        for a in accounts
    ]
    for start in range(0, len(items), services.MAX_BATCH):
        services.post_batch(actor=staff, items=items[start : start + services.MAX_BATCH])
    data.hooks_user_id = hooks_user.pk
    data.hooks_accounts = [a.pk for a in accounts[CUSTOMERS:]]
    data.customers = [
        (account.pk, account.public_id, user.pk, f"Bearer {access_token(user)}")
        for account, user in zip(accounts[:CUSTOMERS], customers, strict=True)
    ]
    data.customers_file = run_dir / "customers.tsv"
    data.customers_file.write_text("".join(f"{c[1]}\t{c[3]}\n" for c in data.customers))
    if data.history:
        owner = User.objects.get(pk=data.history["owner_id"])
        auth = f"Bearer {access_token(owner)}"
        ids = Account.objects.filter(owner=owner).order_by("pk").values_list("public_id", flat=True)
        data.history_file = run_dir / "history.tsv"
        data.history_file.write_text("".join(f"{public_id}\t{auth}\n" for public_id in ids))
    data.setup_seconds["seed"] = time.perf_counter() - started
    print(
        f"  seeded {CUSTOMERS:,} funded customers, staff, API key, tokens in "
        f"{data.setup_seconds['seed']:.1f} s",
        flush=True,
    )


# --- scenarios -----------------------------------------------------------------------------------


def wrk_result(name: str, out: dict, *, per_request: int = 1) -> Result:
    status = out["status"]
    non_2xx = sum(n for code, n in status.items() if not 200 <= code < 300)
    socket_errors = sum(out["errors"][k] for k in ("connect", "read", "write", "timeout"))
    ok = sum(n for code, n in status.items() if 200 <= code < 300)
    result = Result(
        name,
        throughput=ok / out["duration_s"] * per_request,  # 2xx only: fast errors add nothing
        p50_ms=out["p50_ms"],
        p99_ms=out["p99_ms"],
        count=out["requests"],
        non_2xx=non_2xx + socket_errors,
        server_errors=sum(n for code, n in status.items() if code >= 500),
        extra={"status": {str(k): v for k, v in sorted(status.items())}, "errors": out["errors"]},
    )
    if out.get("sample_error"):
        result.extra["sample_error"] = out["sample_error"]
    return result


class Runner:
    """Runs the scenarios (one method each, named as the scenario) against one set of data."""

    def __init__(
        self, config: Config, run_dir: Path, env: dict, app_env: dict, data: Data, processes
    ):
        self.config, self.run_dir = config, run_dir
        self.env, self.app_env, self.data = env, app_env, data
        self.processes = processes
        self.port = harness.free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.gunicorn = self.celery = None

    # servers
    def start_app(self, workers: int, threads: int) -> None:
        if self.celery is None:
            self.celery = harness.start_celery(
                self.processes, self.app_env, concurrency=self.config.celery_concurrency
            )
        if self.gunicorn is not None:
            self.processes.stop(self.gunicorn)
        self.gunicorn = harness.start_gunicorn(
            self.processes, self.app_env, port=self.port, workers=workers, threads=threads
        )

    def wrk(
        self,
        name: str,
        script: str,
        path: str,
        args: list[str],
        *,
        connections=CONNECTIONS,
        per_request: int = 1,
        timeout_s: int = 30,
        warmup: bool = True,
    ) -> Result:
        url = self.base + path

        def fresh() -> list[str]:  # a new nonce per wrk run: keys never repeat, warm-up included
            return [secrets.token_hex(4) if arg == NONCE else arg for arg in args]

        if warmup and self.config.warmup:
            harness.run_wrk(
                url,
                script,
                fresh(),
                duration=self.config.warmup,
                connections=connections,
                timeout_s=timeout_s,
            )
        out = harness.run_wrk(
            url,
            script,
            fresh(),
            duration=self.config.duration,
            connections=connections,
            timeout_s=timeout_s,
        )
        self.processes.check_alive(self.gunicorn)
        return wrk_result(name, out, per_request=per_request)

    # each scenario returns a Result
    def health(self) -> Result:
        return self.wrk("health", "health.lua", "/health", [NONCE])

    def raw(self, name: str, script: str) -> Result:
        harness.psql(self.env["DATABASE_URL"], harness.SQL / "setup.sql", {"accounts": CUSTOMERS})
        out = harness.run_pgbench(
            self.env["DATABASE_URL"],
            script,
            clients=CONNECTIONS,
            duration=self.config.duration,
            accounts=CUSTOMERS,
            log_dir=self.run_dir,
        )
        return Result(
            name,
            throughput=out["tps"],
            p50_ms=out["p50"],
            p99_ms=out["p99"],
            count=out["transactions"],
            non_2xx=out["failed"],
        )

    def raw_random(self) -> Result:
        return self.raw("raw_random", "transfer_random.sql")

    def raw_hot(self) -> Result:
        return self.raw("raw_hot", "transfer_hot.sql")

    def transfer_random(self) -> Result:
        return self.wrk(
            "transfer_random",
            "transfer.lua",
            "/api/v1/transfers",
            [str(self.data.customers_file), "random", NONCE],
        )

    def transfer_hot(self) -> Result:
        return self.wrk(
            "transfer_hot",
            "transfer.lua",
            "/api/v1/transfers",
            [str(self.data.customers_file), "hot", NONCE],
        )

    def batch(self) -> Result:
        result = self.wrk(
            "batch",
            "batch.lua",
            "/api/v1/transfers/batch",
            [str(self.data.customers_file), self.data.staff_api_key, str(BATCH_SIZE), NONCE],
            connections=2,
            per_request=BATCH_SIZE,
            timeout_s=120,
        )
        result.unit = " transfers/s"
        result.extra["batches"] = result.count
        return result

    def _read(self, name: str, kind: str) -> Result:
        history = self.data.history
        first = datetime.fromisoformat(history["first_at"]).timestamp()
        last = datetime.fromisoformat(history["last_at"]).timestamp()
        result = self.wrk(
            name,
            "read.lua",
            "/",
            [str(self.data.history_file), kind, f"{first:.0f}", f"{last:.0f}", NONCE],
        )
        result.extra["entries_in_ledger"] = history["entries"]
        return result

    def balance(self) -> Result:
        return self._read("balance", "balance")

    def balance_asof(self) -> Result:
        return self._read("balance_asof", "asof")

    def statement(self) -> Result:
        return self._read("statement", "statement")

    def order(self) -> Result:
        return self.wrk(
            "order", "order.lua", "/api/v1/orders", [str(self.data.customers_file), NONCE]
        )

    def service_transfer(self) -> Result:
        return service_level(self.data, self.config.duration)

    def sql_per_transfer(self) -> Result:
        return count_sql(self.data)

    def webhooks(self) -> Result:
        port = harness.free_port()
        receiver = harness.start_receiver(self.processes, port)
        try:
            return webhook_fanout(self.data, self.config, port, self.processes, self.celery)
        finally:
            self.processes.stop(receiver)

    def snapshot(self) -> Result:
        from reporting.services import take_snapshots

        started = time.perf_counter()
        rows = take_snapshots()
        seconds = time.perf_counter() - started
        started = time.perf_counter()
        again = take_snapshots()
        second = time.perf_counter() - started
        return Result(
            "snapshot",
            throughput=seconds,
            unit=" s",
            count=rows,
            extra={"rows": rows, "second_run_rows": again, "second_run_seconds": second},
        )

    def export(self) -> Result:
        done = subprocess.run(
            [sys.executable, str(HERE / "export_child.py"), str(self.data.history["owner_id"])],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode:
            raise BenchError(f"export child failed:\n{done.stderr[-3000:]}")
        out = json.loads(done.stdout.strip().splitlines()[-1])
        if out["status"] != "completed":
            raise BenchError(f"export ended {out['status']}")
        return Result(
            "export",
            throughput=out["rows"] / out["seconds"],
            unit=" rows/s",
            count=out["rows"],
            extra={**out, "peak_rss_mib": round(out["peak_rss_mib"], 1)},
        )


def service_level(data: Data, duration: float) -> Result:
    """post_transfer from SERVICE_PROCESSES forked processes (no HTTP), random pairs of the
    seeded customers, each as its source's owner, for `duration` seconds."""
    from django.db import connections

    ctx = multiprocessing.get_context("fork")
    queue, barrier = ctx.Queue(), ctx.Barrier(SERVICE_PROCESSES + 1)
    start_at = ctx.Value("d", 0.0)

    def work(seed_value: int) -> None:
        from accounts.models import User
        from ledger import services
        from ledgerflow.errors import DomainError

        connections.close_all()
        rng = random.Random(seed_value)
        owners = {u.pk: u for u in User.objects.filter(pk__in={c[2] for c in data.customers})}
        latencies, errors, crashes = [], {}, []
        barrier.wait()
        deadline = start_at.value + duration
        one = Decimal("0.01")
        while time.time() < deadline:
            a, b = rng.sample(data.customers, 2)
            began = time.perf_counter()
            try:
                services.post_transfer(
                    actor=owners[a[2]], from_account_id=a[0], to_account_id=b[0], amount=one
                )
            except DomainError as exc:
                errors[exc.code] = errors.get(exc.code, 0) + 1
            except Exception as exc:
                crashes.append(repr(exc)[:300])
                if len(crashes) > 20:
                    break
            latencies.append((time.perf_counter() - began) * 1000)
        connections.close_all()
        queue.put((latencies, errors, crashes))

    connections.close_all()
    children = [ctx.Process(target=work, args=(i,)) for i in range(SERVICE_PROCESSES)]
    for child in children:
        child.start()
    with start_at.get_lock():
        start_at.value = time.time() + 0.5
    barrier.wait(timeout=120)
    outcomes = [queue.get(timeout=duration + 120) for _ in children]
    for child in children:
        child.join(timeout=30)
    latencies = [ms for outcome in outcomes for ms in outcome[0]]
    errors: dict = {}
    for outcome in outcomes:
        for code, n in outcome[1].items():
            errors[code] = errors.get(code, 0) + n
    crashes = [c for outcome in outcomes for c in outcome[2]]
    p50, p99 = harness.percentiles(latencies)
    ok = len(latencies) - sum(errors.values()) - len(crashes)
    result = Result(
        "service_transfer",
        throughput=ok / duration,
        p50_ms=p50,
        p99_ms=p99,
        count=len(latencies),
        non_2xx=sum(errors.values()) + len(crashes),
        server_errors=len(crashes),
        extra={"errors": errors, "processes": SERVICE_PROCESSES},
    )
    if crashes:
        result.extra["sample_error"] = crashes[0]
    return result


def count_sql(data: Data) -> Result:
    """SQL round trips of one POST /transfers, in-process (Django's test client, no HTTP):
    the statements CaptureQueriesContext sees plus BEGIN and COMMIT of each transaction (when
    they are not statements of their own)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    (_, src, _, auth), (_, dst, _, _) = data.customers[1], data.customers[2]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=auth)
    opened = []
    original = connection._set_autocommit

    def spy(autocommit):
        if not autocommit:
            opened.append(True)
        return original(autocommit)

    statements, status_code = [], None
    for attempt in range(3):  # the last one counts: caches and connections are warm by then
        opened.clear()
        connection._set_autocommit = spy
        try:
            with CaptureQueriesContext(connection) as captured:
                response = client.post(
                    "/api/v1/transfers",
                    {"from_account": src, "to_account": dst, "amount": "0.01"},
                    format="json",
                    HTTP_IDEMPOTENCY_KEY=f"sql-count-{secrets.token_hex(6)}-{attempt}",
                )
        finally:
            connection._set_autocommit = original
        statements, status_code = (
            [q["sql"] for q in captured.captured_queries],
            response.status_code,
        )
    # psycopg opens a transaction with an implicit BEGIN and Django's commit() is no
    # cursor statement: count both, unless the app issued them as statements itself.
    begins = sum(1 for sql in statements if sql.strip().upper().startswith("BEGIN"))
    round_trips = len(statements) + 2 * max(0, len(opened) - begins)
    result = Result(
        "sql_per_transfer",
        throughput=round_trips,
        unit="",
        count=1,
        non_2xx=0 if 200 <= status_code < 300 else 1,
        server_errors=1 if status_code >= 500 else 0,
        extra={
            "statements": len(statements),
            "transactions": len(opened),
            "status": status_code,
            "sql": [s[:200] for s in statements],
        },
    )
    return result


def webhook_fanout(data: Data, config: Config, port: int, processes, celery) -> Result:
    """One batch of transfers between the webhook user's two accounts: each posted event goes
    to each of its endpoints on the local receiver. Deliveries/s = delivered rows over the
    span of their delivered_at, per Celery worker process."""
    from django.db.models import Max, Min

    from accounts.models import User
    from ledger import services
    from webhooks.models import Delivery
    from webhooks.services import create_endpoint

    owner = User.objects.get(pk=data.hooks_user_id)
    endpoints = [
        create_endpoint(
            actor=owner, url=f"http://127.0.0.1:{port}/hook/{i}", events=["transaction.posted"]
        )
        for i in range(config.webhook_endpoints)
    ]
    a, b = data.hooks_accounts
    items = [
        services.TransferItem(
            from_account_id=(a, b)[i % 2], to_account_id=(b, a)[i % 2], amount=Decimal("0.01")
        )
        for i in range(config.webhook_events)
    ]
    started = time.time()
    services.post_batch(actor=owner, items=items)
    enqueued = time.time() - started
    deliveries = Delivery.objects.filter(endpoint__in=endpoints)
    expected = deliveries.count()
    deadline = time.monotonic() + 60 + expected / 20
    while time.monotonic() < deadline:
        processes.check_alive(celery)
        if not deliveries.filter(status=Delivery.Status.PENDING).exists():
            break
        time.sleep(0.2)
    delivered = deliveries.filter(status=Delivery.Status.SUCCEEDED)
    count = delivered.count()
    span = delivered.aggregate(first=Min("delivered_at"), last=Max("delivered_at"))
    seconds = (span["last"] - span["first"]).total_seconds() if count > 1 else None
    rate = (count - 1) / seconds if seconds else None
    per_worker = rate / config.celery_concurrency if rate else None
    return Result(
        "webhooks",
        throughput=per_worker,
        unit=" deliveries/s",
        count=count,
        non_2xx=expected - count,
        extra={
            "expected": expected,
            "delivered": count,
            "received": harness.receiver_count(port),
            "endpoints": len(endpoints),
            "events": len(items),
            "total_rate": rate,
            "worker_processes": config.celery_concurrency,
            "enqueue_seconds": enqueued,
        },
    )


# --- judging and the table ----------------------------------------------------------------------


def judge(results: dict[str, Result]) -> None:
    for name, result in results.items():
        scenario = SCENARIOS[name]
        ref = results.get(scenario.reference) if scenario.reference else None
        if ref and ref.throughput and result.throughput is not None:
            result.ratio = result.throughput / ref.throughput
        if result.error:
            result.passed = False
            continue
        checks = {
            "transfer_random": lambda r: r.ratio is not None and r.ratio >= 0.33,
            "transfer_hot": lambda r: r.ratio is not None and r.ratio >= 0.5,
            "service_transfer": lambda r: r.ratio is not None and r.ratio >= 0.5,
            "batch": lambda r: r.ratio is not None and r.ratio >= 4,
            "balance": lambda r: r.ratio is not None and r.ratio >= 0.5 and r.p99_ms < 10,
            "balance_asof": lambda r: r.p99_ms < 10,
            "statement": lambda r: r.p99_ms < 20,
            "sql_per_transfer": lambda r: r.throughput <= 6,
            "snapshot": lambda r: r.throughput < 5,
            "export": lambda r: r.throughput >= 100_000 and r.extra["peak_rss_mib"] < 200,
        }
        if name in checks:
            # A target passes only on a clean run: something measured and no error at all.
            clean = result.throughput is not None and result.count > 0 and not result.non_2xx
            try:
                result.passed = clean and bool(checks[name](result))
            except TypeError:  # a figure missing (None)
                result.passed = False


def fmt_number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    if unit == " s":
        return f"{value:.2f} s"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    return f"{value:.1f}{unit}"


def fmt_ms(value: float | None) -> str:
    return "-" if value is None else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def table_rows(results: dict[str, Result]) -> list[list[str]]:
    rows = [["scenario", "throughput", "p50 ms", "p99 ms", "non-2xx", "ratio", "target", "result"]]
    for name, result in results.items():
        scenario = SCENARIOS[name]
        if result.error:
            rows.append([name, "ERROR", "-", "-", "-", "-", scenario.target or "-", "FAIL"])
            continue
        throughput = fmt_number(result.throughput, result.unit)
        if name == "export":
            throughput += f", {result.extra['peak_rss_mib']:.0f} MB RSS"
        if name == "snapshot":
            throughput += f" ({result.count:,} rows)"
        ratio = f"{result.ratio:.2f}x {scenario.reference}" if result.ratio is not None else "-"
        verdict = {True: "pass", False: "FAIL", None: ""}[result.passed]
        rows.append(
            [
                name,
                throughput,
                fmt_ms(result.p50_ms),
                fmt_ms(result.p99_ms),
                str(result.non_2xx),
                ratio,
                scenario.target or "-",
                verdict,
            ]
        )
    return rows


def render(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {1, 2, 3, 4}
    lines = []
    for index, row in enumerate(rows):
        cells = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def git_state() -> dict:
    def git(*argv):
        done = subprocess.run(["git", *argv], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty_files": len(git("status", "--porcelain").splitlines()),
    }


# --- main ----------------------------------------------------------------------------------------


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    config = make_config(args)
    harness.require_tools()
    url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not url.startswith(("postgres://", "postgresql://")):
        raise BenchError("the bench measures PostgreSQL: DATABASE_URL must be a postgres:// URL")
    if "bench" not in database_name(url):
        raise BenchError(
            f"DATABASE_URL names {database_name(url)!r}: the bench DROPS and recreates its "
            "database, so its name must contain 'bench' (default lf_bench)"
        )
    names = selected(args)
    needs = set().union(*(SCENARIOS[name].needs for name in names))
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = Path(tempfile.mkdtemp(prefix=f"ledgerflow-bench-{stamp}-"))
    nonce = secrets.token_hex(4)
    env = bench_env(url, run_dir / "var", nonce)
    os.environ.update(env)
    print(
        f"LedgerFlow bench {stamp}: {len(names)} scenario(s), {config.duration:g} s each"
        f"{' (quick)' if config.quick else ''}; logs in {run_dir}",
        flush=True,
    )

    setup_started = time.perf_counter()
    recreate_s = recreate_database(url, env, args.fresh)
    print(f"  database {database_name(url)}: recreated in {recreate_s:.1f} s", flush=True)
    import django

    django.setup()
    try:  # load the whole app now, as gunicorn will: in-process scenarios use this snapshot
        from django.urls import get_resolver

        get_resolver().url_patterns  # noqa: B018 - imports every view module
    except Exception as exc:
        raise BenchError(f"the application does not load as it is now: {exc!r}") from exc
    data = Data()
    try:
        seed(data, run_dir, config, needs)
    except Exception as exc:
        traceback.print_exception(exc, limit=-4, chain=False)
        raise BenchError(f"seeding failed with the application code as it is now: {exc}") from exc
    processes = harness.Processes(run_dir)
    app_env = dict(env)
    runner = None
    results: dict[str, Result] = {}
    tune_rows = []
    verification = None
    try:
        if args.pgbouncer:
            app_env["DATABASE_URL"] = resolve_pgbouncer(args.pgbouncer, url, processes, env)
            app_env["DATABASE_POOL_MODE"] = "transaction"  # settings: no server-side cursors
            print(f"  app through pgbouncer: {app_env['DATABASE_URL']}", flush=True)
        runner = Runner(config, run_dir, env, app_env, data, processes)
        if "app" in needs:
            runner.start_app(config.workers, config.threads)
            print(
                f"  gunicorn {config.workers} worker(s) x {config.threads} thread(s) on "
                f"{runner.base}, celery x{config.celery_concurrency}: up",
                flush=True,
            )
        setup_seconds = time.perf_counter() - setup_started
        if args.tune:
            configs = [tuple(int(n) for n in c.split("x")) for c in args.tune_configs.split(",")]
            tune_rows = tune(runner, configs)
        else:
            for name in names:
                print(f"  {name} ...", end=" ", flush=True)
                began = time.perf_counter()
                try:
                    result = getattr(runner, name)()
                except BenchError as exc:
                    result = Result(name, error=str(exc))
                except Exception as exc:  # a scenario broken by a code change: report, go on
                    result = Result(name, error=f"{type(exc).__name__}: {exc}")
                    traceback.print_exception(exc, limit=-4, chain=False)
                result.load_avg = os.getloadavg()[0]
                results[name] = result
                shown = "ERROR" if result.error else fmt_number(result.throughput, result.unit)
                print(f"{shown} ({time.perf_counter() - began:.0f} s)", flush=True)
                if result.error:
                    print(f"    {result.error}", flush=True)
    finally:
        processes.stop_all()
    from ledger.verification import verify_ledger

    started = time.perf_counter()
    verification = verify_ledger()
    verify_seconds = time.perf_counter() - started
    judge(results)
    total = time.perf_counter() - setup_started
    print()
    if args.tune:
        print(render(tune_rows))
    else:
        print(render(table_rows(results)))
    print(
        f"\nverify_ledger: {'all invariants hold' if verification.ok else verification.counts} "
        f"({verify_seconds:.1f} s); whole run {total:.0f} s (setup {setup_seconds:.0f} s); "
        f"gunicorn {config.workers}x{config.threads}, celery x{config.celery_concurrency}, "
        f"{os.cpu_count()} cores, load avg now {os.getloadavg()[0]:.1f}"
    )
    server_errors = sum(r.server_errors for r in results.values())
    failed = [name for name, r in results.items() if r.error]
    report = {
        "stamp": stamp,
        "git": git_state(),
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "config": {
            **asdict(config),
            "pgbouncer": bool(args.pgbouncer),
            "only": args.only,
            "tune": args.tune,
        },
        "setup_seconds": {**data.setup_seconds, "total": setup_seconds},
        "total_seconds": total,
        "history": data.history,
        "results": {
            name: {
                **asdict(r),
                "title": SCENARIOS[name].title,
                "reference": SCENARIOS[name].reference,
                "target": SCENARIOS[name].target,
            }
            for name, r in results.items()
        },
        "tune": tune_rows,
        "verify_ledger": {
            "ok": verification.ok,
            "counts": verification.counts,
            "seconds": verify_seconds,
        },
        "server_errors": server_errors,
        "failed_scenarios": failed,
    }
    if not args.no_save:
        out = HERE / "results" / f"{stamp}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results: {out.relative_to(ROOT)}")
    if not verification.ok:
        print("FAILED: verify_ledger found violations")
    if server_errors:
        print(f"FAILED: {server_errors} server error(s) (5xx)")
    if failed:
        print(f"FAILED: scenario(s) could not run: {', '.join(failed)}")
    return 1 if (server_errors or failed or not verification.ok) else 0


def tune(runner: Runner, configs: list[tuple[int, int]]) -> list[list[str]]:
    """Each gunicorn configuration on the same data, back to back: health, transfers, balance."""
    rows = [["gunicorn", "health rps", "transfers/s", "p99 ms", "balance rps", "p99 ms", "non-2xx"]]
    for workers, threads in configs:
        runner.start_app(workers, threads)
        label = f"{workers} sync" if threads == 1 else f"{workers} gthread x{threads}"
        print(f"  {label} ...", end=" ", flush=True)
        health = runner.health()
        transfers = runner.transfer_random()
        balance = runner.balance()
        bad = health.non_2xx + transfers.non_2xx + balance.non_2xx
        print(
            f"{health.throughput:.0f} / {transfers.throughput:.0f} / {balance.throughput:.0f}",
            flush=True,
        )
        rows.append(
            [
                label,
                fmt_number(health.throughput),
                fmt_number(transfers.throughput),
                fmt_ms(transfers.p99_ms),
                fmt_number(balance.throughput),
                fmt_ms(balance.p99_ms),
                str(bad),
            ]
        )
    return rows


def _interrupt(signum, frame):
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        sys.exit(main(sys.argv[1:]))
    except BenchError as exc:
        print(f"\nbench: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("\nbench: interrupted; the servers it started are stopped", file=sys.stderr)
        sys.exit(130)
