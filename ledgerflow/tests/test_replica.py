"""Reporting reads go to the streaming replica; money reads never do (ledgerflow/routers.py).

These tests read from a real hot standby (deploy/replica/setup.sh: 127.0.0.1:5433 streaming
from the primary on 5432), not from Django's test MIRROR. How: pytest-django creates the test
database on the primary; physical streaming replication copies the whole cluster, so that
database appears on the standby too, read-only. Settings keep `TEST: {"MIRROR": "default"}` on the
replica alias (Django must not try to create or flush a database on a read-only standby), and
the `standby` fixture then points the alias back at port 5433 with the test database's name.
Tests are transactional: only committed rows stream. Before reading they wait until the standby
has replayed the primary's current WAL position.
"""

import os
import time

import environ
import pytest
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext

from ledgerflow import routers
from ledgerflow.routers import REPLICA, read_replica
from reporting import selectors, services
from reporting.models import Export

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not os.environ.get("DATABASE_REPLICA_URL"),
        reason="DATABASE_REPLICA_URL is unset: run deploy/replica/setup.sh and set it to "
        "postgres://postgres@127.0.0.1:5433/<the DATABASE_URL database name>",
    ),
    pytest.mark.django_db(transaction=True, databases=["default", "replica"]),
]

REPLAY_TIMEOUT = 30  # seconds; other test runs on this machine write WAL too


def scalar(alias: str, sql: str, params=()):
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


def wait_until_replayed() -> None:
    """Block until the standby has replayed everything committed on the primary so far."""
    target = scalar("default", "SELECT pg_current_wal_lsn()::text")
    deadline = time.monotonic() + REPLAY_TIMEOUT
    while not scalar(REPLICA, "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", [target]):
        assert time.monotonic() < deadline, f"the standby did not replay {target} in time"
        time.sleep(0.05)


@pytest.fixture
def standby(request, settings):
    """The replica alias reading the test database through the hot standby on its own port."""
    request.getfixturevalue("_django_db_helper")
    replica = connections[REPLICA]
    mirrored = replica.settings_dict  # Django's test mirror: the primary's settings
    # From DATABASE_REPLICA_URL (conftest mirrors the alias itself to the primary for tests).
    configured = environ.Env.db_url_config(os.environ["DATABASE_REPLICA_URL"])
    replica.close()
    replica.settings_dict = {
        **mirrored,  # Django's defaults for every key, then the standby's address
        **configured,
        "NAME": connections["default"].settings_dict["NAME"],  # the test database
        "TEST": {**configured.get("TEST", {}), "MIRROR": "default"},  # never flushed there
    }
    settings.REPLICA_CHECK_INTERVAL = 0  # ask the standby on every read_replica()
    routers.health.reset()
    yield replica
    replica.close()
    replica.settings_dict = mirrored
    routers.health.reset()


@pytest.fixture
def paused_replay(standby):
    """Stop the standby applying WAL (it still receives it); always resumed afterwards."""
    scalar(REPLICA, "SELECT pg_wal_replay_pause()::text")
    try:
        yield
    finally:
        scalar(REPLICA, "SELECT pg_wal_replay_resume()::text")


def transfer(client, source, target, amount, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    body = {"from_account": source.public_id, "to_account": target.public_id, "amount": amount}
    return client.post("/api/v1/transfers", body, format="json", **headers)


def touching(queries, table: str) -> list[str]:
    return [q["sql"] for q in queries if f'"{table}"' in q["sql"]]


def test_the_replica_alias_is_a_hot_standby_on_its_own_port(standby):
    assert scalar(REPLICA, "SELECT pg_is_in_recovery()") is True
    assert scalar("default", "SELECT pg_is_in_recovery()") is False
    assert scalar(REPLICA, "SELECT current_setting('port')") == "5433"
    assert scalar(REPLICA, "SELECT current_database()") == scalar(
        "default", "SELECT current_database()"
    )
    assert read_replica() == REPLICA


def test_summary_is_read_on_the_replica_and_not_on_the_primary(
    standby, funded, customer, other_customer, customer_client
):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    assert transfer(customer_client, a, b, "2.50").status_code == 201
    wait_until_replayed()

    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = customer_client.get(f"/api/v1/accounts/{a.public_id}/summary")

    assert response.status_code == 200
    assert (response.json()["total_in"], response.json()["total_out"]) == ("10.00", "2.50")
    assert touching(on_replica.captured_queries, "ledger_entry")
    assert not touching(on_primary.captured_queries, "ledger_entry")


def test_a_lagging_standby_serves_old_totals_and_past_the_limit_the_primary_does(
    standby, paused_replay, settings, funded, customer, other_customer, customer_client
):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    url = f"/api/v1/accounts/{a.public_id}/summary"
    settings.REPLICA_MAX_LAG = 3600
    # Replay is paused: the deposit is on the primary only; the standby does not have the account.
    assert transfer(customer_client, a, b, "2.50").status_code == 201

    lagging = customer_client.get(url)

    assert lagging.status_code == 200
    assert lagging.json()["total_in"] == "0.00"  # really read on the standby, which lags
    settings.REPLICA_MAX_LAG = 0.1
    time.sleep(0.2)
    assert read_replica() == "default"
    fresh = customer_client.get(url)
    assert (fresh.json()["total_in"], fresh.json()["total_out"]) == ("10.00", "2.50")


def test_snapshots_are_read_on_the_replica(standby, funded, customer, customer_client):
    a = funded(customer, "10.00")
    assert services.take_snapshots() >= 1
    wait_until_replayed()

    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        response = customer_client.get(f"/api/v1/accounts/{a.public_id}/snapshots")

    assert response.status_code == 200
    assert [s["balance"] for s in response.json()["results"]] == ["10.00"]
    assert touching(on_replica.captured_queries, "ledger_balancesnapshot")
    assert not touching(on_primary.captured_queries, "ledger_balancesnapshot")


def test_export_rows_are_read_on_the_replica(standby, funded, customer, file_storage):
    a = funded(customer, "10.00")
    export = Export.objects.create(owner=customer, kind=Export.Kind.ENTRIES, account=a)
    wait_until_replayed()

    with (
        CaptureQueriesContext(connections[REPLICA]) as on_replica,
        CaptureQueriesContext(connections["default"]) as on_primary,
    ):
        services.build_export(export_id=export.pk)

    export.refresh_from_db()
    assert (export.status, export.row_count) == (Export.Status.COMPLETED, 1)
    assert touching(on_replica.captured_queries, "ledger_entry")
    assert not touching(on_primary.captured_queries, "ledger_entry")
    # The claim and the completion are writes: the primary's.
    assert not any(
        q["sql"].lstrip().upper().startswith("UPDATE") for q in on_replica.captured_queries
    )


def test_money_reads_never_touch_the_replica(
    standby, funded, customer, other_customer, customer_client, api_client
):
    from accounts.tests.factories import TEST_PASSWORD

    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    wait_until_replayed()
    assert read_replica() == REPLICA  # the standby is usable: staying off it is the router's doing

    with CaptureQueriesContext(connections[REPLICA]) as on_replica:
        first = transfer(customer_client, a, b, "2.50", key="replica-money-1")
        replayed = transfer(customer_client, a, b, "2.50", key="replica-money-1")  # idempotency
        refused = transfer(customer_client, a, b, "99.00")  # balance check
        balance = customer_client.get(f"/api/v1/accounts/{a.public_id}/balance")
        statement = customer_client.get(f"/api/v1/accounts/{a.public_id}/entries")
        wrong = api_client.post(
            "/api/v1/auth/token", {"email": customer.email, "password": "wrong"}, format="json"
        )
        right = api_client.post(
            "/api/v1/auth/token",
            {"email": customer.email, "password": TEST_PASSWORD},
            format="json",
        )

    assert (first.status_code, replayed.status_code, refused.status_code) == (201, 201, 409)
    assert replayed["Idempotent-Replayed"] == "true"
    assert balance.json()["balance"] == "7.50"  # the primary's: the standby may not have it yet
    assert [e["amount"] for e in statement.json()["results"]] == ["-2.50", "10.00"]
    assert (wrong.status_code, right.status_code) == (401, 200)
    assert on_replica.captured_queries == []


def test_inside_a_transaction_reporting_reads_use_the_primary(standby, funded, customer):
    a = funded(customer, "10.00")
    wait_until_replayed()

    with CaptureQueriesContext(connections[REPLICA]) as on_replica, transaction.atomic():
        assert read_replica() == "default"
        summary = selectors.summary_of(a, since=None, until=None)
        assert selectors.snapshots_of(a).db == "default"

    assert summary.total.money_in == 1000
    assert on_replica.captured_queries == []


def test_a_replica_that_is_down_sends_reporting_reads_to_the_primary(
    standby, funded, customer, customer_client
):
    a = funded(customer, "10.00")
    standby.close()
    standby.settings_dict = {**standby.settings_dict, "PORT": 1}  # nothing listens there

    response = customer_client.get(f"/api/v1/accounts/{a.public_id}/summary")

    assert response.status_code == 200
    assert response.json()["total_in"] == "10.00"
    assert read_replica() == "default"
