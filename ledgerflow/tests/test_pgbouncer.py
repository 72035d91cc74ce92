"""Transfers through pgbouncer in transaction mode (deploy/pgbouncer/, DATABASE_POOL_MODE).

The app runs in a child process with the settings production would use behind pgbouncer:
DATABASE_URL on port 6432 and DATABASE_POOL_MODE=transaction. Threads move money concurrently
through pool connections that pgbouncer hands out per transaction, stream rows with
`iterator()` (which needs server-side cursors off), and the books are checked on the primary.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from accounts.models import Account
from ledger.verification import verify_ledger

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
THREADS, TRANSFERS_EACH = 8, 10

CHILD = """
import json, os, threading
from decimal import Decimal
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")
django.setup()
from django.db import connection, connections
from accounts.models import Account, User
from ledger.models import Entry
from ledger.services import post_transfer

actor, a, b = User.objects.get(pk={actor}), {a}, {b}
errors = []

def work():
    try:
        for _ in range({each}):
            post_transfer(actor=actor, from_account_id=a, to_account_id=b, amount=Decimal("0.01"))
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        connections.close_all()

threads = [threading.Thread(target=work) for _ in range({threads})]
for t in threads: t.start()
for t in threads: t.join()
streamed = sum(1 for _ in Entry.objects.filter(account_id=b).iterator(chunk_size=10))
connection.ensure_connection()
print(json.dumps({{
    "errors": errors,
    "streamed": streamed,
    "port": connection.settings_dict["PORT"],
    "server_side_cursors_off": connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"],
    "prepare_threshold": connection.connection.prepare_threshold,
}}))
"""


def admin(sql: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(
        host="127.0.0.1", port=6432, dbname="pgbouncer", user="postgres", connect_timeout=2
    ) as conn:
        conn.autocommit = True
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall() if cursor.description else []


@pytest.fixture
def pgbouncer_url():
    import psycopg

    if shutil.which("pgbouncer") is None:
        pytest.skip("pgbouncer is not installed (apt-get install -y pgbouncer)")
    settings_dict = connection.settings_dict
    if (settings_dict["HOST"], int(settings_dict["PORT"] or 5432)) != ("127.0.0.1", 5432):
        pytest.skip("deploy/pgbouncer fronts the primary on 127.0.0.1:5432 only")
    try:
        config = dict((row[0], row[1]) for row in admin("SHOW CONFIG"))
    except psycopg.Error as exc:
        pytest.skip(
            f"pgbouncer does not answer on 127.0.0.1:6432 ({exc}): deploy/pgbouncer/start.sh"
        )
    if config.get("pool_mode") != "transaction":
        pytest.skip(f"the pgbouncer on 6432 pools by {config.get('pool_mode')}, not transaction")
    name = settings_dict["NAME"]
    yield f"postgres://postgres@127.0.0.1:6432/{name}"
    # Drop pgbouncer's server connections to the test database, or DROP DATABASE at the end of
    # the session would find it in use.
    admin(f"KILL {name}")
    admin(f"RESUME {name}")


def test_concurrent_transfers_through_pgbouncer_in_transaction_mode(
    pgbouncer_url, funded, customer, other_customer
):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    script = CHILD.format(actor=customer.pk, a=a.pk, b=b.pk, threads=THREADS, each=TRANSFERS_EACH)
    env = {
        **os.environ,
        "DATABASE_URL": pgbouncer_url,
        "DATABASE_POOL_MODE": "transaction",
        "CELERY_TASK_ALWAYS_EAGER": "true",
    }
    env.pop("DATABASE_REPLICA_URL", None)

    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    moved = THREADS * TRANSFERS_EACH
    assert report == {
        "errors": [],
        "streamed": moved,
        "port": 6432,
        "server_side_cursors_off": True,
        "prepare_threshold": None,  # psycopg never prepares: pgbouncer 1.18 cannot route them
    }
    balances = dict(Account.objects.filter(pk__in=[a.pk, b.pk]).values_list("pk", "balance"))
    assert balances == {a.pk: 1000 - moved, b.pk: moved}
    assert verify_ledger().ok
