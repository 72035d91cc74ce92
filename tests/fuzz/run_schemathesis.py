"""Schemathesis against the live OpenAPI document of a real gunicorn, on a scratch PostgreSQL
database with demo data, once per kind of caller: a customer's JWT, an operator's JWT (staff
with every API right) and an operator's API key.

Checks: no 5xx; every status code, content type, header and body is the one the schema
documents. Bounded in examples per operation and in time, so the whole run fits the CI step's
budget (3 minutes on a 2-core machine). Path parameters take real ids of the fuzzing customer's
objects and account fields in bodies mostly its real accounts (a schemathesis.toml written per
caller), so that requests reach the money rules instead of stopping at 404.

    .venv/bin/python tests/fuzz/run_schemathesis.py                    # as CI runs it
    .venv/bin/python tests/fuzz/run_schemathesis.py --max-examples 50 --seed 7 --keep-db

The database named by --database-url (default FUZZ_DATABASE_URL, else
postgres://postgres@127.0.0.1:5432/ledgerflow_fuzz) is dropped and created again: its name must
contain "fuzz". The server gets production settings (DEBUG=false) with a throw-away SECRET_KEY,
a filesystem broker in a temporary folder (no worker runs: events stay queued), and
WEBHOOKS_ALLOW_PRIVATE_URLS so that generated endpoint URLs cost no DNS look-up.
Exit status: 0 when every run is clean, 1 otherwise (reports under --report-dir).
"""

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
CUSTOMER_EMAIL = "fuzz-customer@example.com"
OPERATOR_EMAIL = "fuzz-operator@example.com"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--database-url",
        default=os.environ.get(
            "FUZZ_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/ledgerflow_fuzz"
        ),
    )
    parser.add_argument("--redis-url", default=os.environ.get("FUZZ_REDIS_URL", ""))
    parser.add_argument("--max-examples", type=int, default=8, help="per operation and caller")
    parser.add_argument("--max-time", type=int, default=35, help="seconds per caller")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "20261202")))
    # One: hypothesis' lambda descriptions are not thread-safe on CPython 3.11 (a runtime
    # error "AST constructor recursion depth mismatch" with 2 workers).
    parser.add_argument("--workers", default="1")
    parser.add_argument("--callers", default="customer,operator,api_key")
    parser.add_argument("--report-dir", default=str(Path(tempfile.gettempdir()) / "lf-fuzz"))
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database after")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def admin_url(database_url: str) -> tuple[str, str]:
    """The maintenance database's URL on the same server, and the scratch database's name."""
    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if "fuzz" not in name:
        sys.exit(f"refusing to drop {name!r}: the fuzz database's name must contain 'fuzz'")
    return urlunsplit(parts._replace(path="/postgres")), name


def recreate_database(database_url: str) -> None:
    import psycopg

    url, name = admin_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    import psycopg

    url, name = admin_url(database_url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def server_env(args: argparse.Namespace, var_dir: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DATABASE_", "REDIS_", "CELERY_", "THROTTLE_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="ledgerflow.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(48),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SECURE_SSL_REDIRECT="false",
        VAULT_ADDRESS="0x71c7656ec7ab88b098defb751b7401b5f6d8976f",
        DATABASE_URL=args.database_url,
        CELERY_BROKER_URL="filesystem://",
        VAR_DIR=str(var_dir),
        WEBHOOKS_ALLOW_PRIVATE_URLS="true",
        LOG_LEVEL="WARNING",
        # The fuzzer is one client sending thousands of requests: limits would answer most of
        # them 429 (documented on every operation) and hide what lies behind.
        THROTTLE_ANON="1000000/min",
        THROTTLE_USER="1000000/min",
        THROTTLE_AUTH="1000000/min",
        LOGIN_LOCKOUT_THRESHOLD="1000000",
        LOGIN_LOCKOUT_USER_THRESHOLD="1000000",
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
        env["CACHE_KEY_PREFIX"] = f"lf-fuzz-{secrets.token_hex(4)}"
    return env


class Caller:
    """A kind of caller: its Authorization header and the ids its path parameters take."""

    def __init__(self, authorization: str, ids: dict[str, str], accounts: list[str]) -> None:
        self.authorization, self.ids, self.accounts = authorization, ids, accounts


def prepare_data(env: dict[str, str]) -> dict[str, Caller]:
    """Migrate, seed the demo, add the fuzzing callers and objects for them to reach.

    Path parameters get real ids (the customer's account, order, hold, endpoint, delivery and
    export), so that requests reach the views' logic instead of stopping at 404; ids the
    fuzzer makes up are still sent by its coverage phase.
    """
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.db import connections

    from accounts import permissions as api_rights
    from accounts.authentication import token_pair_for
    from accounts.models import User
    from accounts.services import create_api_key, open_account
    from ledger.services import post_deposit, post_transfer
    from orders.services import create_order
    from reporting import services as reporting
    from webhooks.models import Delivery
    from webhooks.services import create_endpoint

    call_command("migrate", "--noinput", verbosity=0)
    os.environ["DEMO_ADMIN_PASSWORD"] = secrets.token_urlsafe(12)
    call_command("seed_demo", stdout=open(os.devnull, "w"))

    customer = User.objects.create_user(CUSTOMER_EMAIL, secrets.token_urlsafe(16))
    operator = User.objects.create_user(OPERATOR_EMAIL, secrets.token_urlsafe(16), is_staff=True)
    # Every API right there is (accounts.permissions names each one): the operator reaches
    # every staff endpoint.
    rights = [
        value
        for name, value in vars(api_rights).items()
        if name.isupper() and isinstance(value, str) and value.count(".") == 1
    ]
    for right in rights:
        app_label, codename = right.split(".")
        operator.user_permissions.add(
            *Permission.objects.filter(content_type__app_label=app_label, codename=codename)
        )
    endpoint = create_endpoint(actor=customer, url="https://hooks.example.com/ledgerflow")
    usd = open_account(actor=customer, asset_code="USD", name="fuzz")
    usdc = open_account(actor=customer, asset_code="USDC", name="fuzz on-chain")
    savings = open_account(actor=customer, asset_code="USD", name="fuzz savings")
    for account in (usd, usdc):
        post_deposit(actor=operator, account_id=account.pk, amount=Decimal("1000"))
    hold = post_transfer(
        actor=customer,
        from_account_id=usd.pk,
        to_account_id=savings.pk,
        amount=Decimal("5.00"),
        pending=True,
    )
    order = create_order(actor=customer, account_id=usdc.pk, amount=Decimal("25"))
    export = reporting.request_export(actor=customer, kind="entries", account=usd)
    delivery = Delivery.objects.filter(endpoint=endpoint).order_by("pk").first()
    _, raw_key = create_api_key(actor=operator, name="fuzz")
    ids = {
        "account_id": usd.public_id,
        "transaction_id": hold.public_id,
        "order_id": order.order_id,
        "endpoint_id": endpoint.public_id,
        "export_id": export.public_id,
        "user_id": str(customer.pk),
    }
    if delivery is not None:
        ids["delivery_id"] = delivery.public_id
    accounts = [usd.public_id, savings.public_id, usdc.public_id]
    callers = {
        "customer": Caller(f"Bearer {token_pair_for(customer).access_token}", ids, accounts),
        "operator": Caller(f"Bearer {token_pair_for(operator).access_token}", ids, accounts),
        "api_key": Caller(f"Api-Key {raw_key}", ids, accounts),
    }
    connections.close_all()
    return callers


# Body fields naming accounts: mostly real ones (money can move), sometimes made up (404s).
ACCOUNT_FIELDS = (
    "body.account",
    "body.from_account",
    "body.to_account",
    "body.transfers[*].from_account",
    "body.transfers[*].to_account",
    "body.entries[*].account",
)


def write_config(path: Path, caller: Caller) -> None:
    """A schemathesis.toml: the caller's ids for path parameters, its accounts for bodies."""
    accounts = ", ".join(f'"{account}"' for account in caller.accounts)
    lines = ["[dictionaries.accounts]", f"values = [{accounts}]", "", "[parameters]"]
    lines += [f'"path.{name}" = "{value}"' for name, value in sorted(caller.ids.items())]
    lines += [
        f'"{field}" = {{ dictionary = "accounts", probability = 0.8 }}' for field in ACCOUNT_FIELDS
    ]
    path.write_text("\n".join(lines) + "\n")


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    command = [
        str(BIN / "gunicorn"),
        "-c",
        str(ROOT / "gunicorn.conf.py"),
        "ledgerflow.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--threads",
        "4",
        "--timeout",
        "30",
    ]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}; log: {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
                return server
        except OSError:
            time.sleep(0.3)
    stop(server)
    sys.exit(f"gunicorn did not answer /health within 30 s; log: {log}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def fuzz(args, port: int, name: str, caller: Caller, report_dir: Path) -> int:
    config = report_dir / f"{name}.toml"
    write_config(config, caller)
    command = [
        str(BIN / "schemathesis"),
        "--config-file",
        str(config),
        "run",
        f"http://127.0.0.1:{port}/api/schema/?format=json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(args.max_examples),
        "--max-time",
        str(args.max_time),
        "--seed",
        str(args.seed),
        "--workers",
        args.workers,
        "--request-timeout",
        "20",
        "--header",
        f"Authorization: {caller.authorization}",
        "--generation-database",
        "none",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(report_dir / f"{name}.xml"),
    ]
    print(f"\n=== schemathesis as {name}", flush=True)
    started = time.monotonic()
    # cwd: schemathesis keeps a .schemathesis/ folder in its working directory.
    result = subprocess.run(command, cwd=report_dir, check=False)
    print(f"--- {name}: exit {result.returncode} in {time.monotonic() - started:.0f}s")
    return result.returncode


def _terminated(signum, frame):
    # `timeout` in CI sends SIGTERM: unwind through `finally`, which stops gunicorn by its
    # PID and drops the scratch database.
    raise SystemExit(f"terminated by signal {signum}")


def main() -> int:
    signal.signal(signal.SIGTERM, _terminated)
    args = parse_args()
    if shutil.which("schemathesis", path=str(BIN)) is None:
        sys.exit(f"schemathesis is not installed in {BIN}: pip install schemathesis")
    report_dir = Path(args.report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    var_dir = Path(tempfile.mkdtemp(prefix="lf-fuzz-var-"))
    started = time.monotonic()
    recreate_database(args.database_url)
    server = None
    try:
        env = server_env(args, var_dir)
        callers = prepare_data(env)
        print(f"data ready in {time.monotonic() - started:.0f}s", flush=True)
        port = free_port()
        server = start_server(env, port, report_dir / "gunicorn.log")
        failed = [
            caller
            for caller in args.callers.split(",")
            if fuzz(args, port, caller, callers[caller], report_dir) != 0
        ]
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(var_dir, ignore_errors=True)
        if not args.keep_db:
            drop_database(args.database_url)
    took = time.monotonic() - started
    if failed:
        print(f"\nschemathesis found problems as: {', '.join(failed)} ({took:.0f}s in all).")
        print(f"Reports and the server log: {report_dir}")
        return 1
    print(f"\nschemathesis: clean for every caller ({took:.0f}s in all, seed {args.seed}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
