"""A database that is down or drops the connection is 503 service_unavailable, never a 500.

Real failures, no mocks: the server terminates our backend (pg_terminate_backend from a
second connection, as an operator's restart or failover does), or the database cannot be
reached at all. Transactional tests: the connection itself is broken and rebuilt.
"""

import logging

import psycopg
import pytest
from django.db import close_old_connections, connection

from accounts.models import Account
from conftest import client_for
from ledger.models import IdempotencyKey, Transaction
from webhooks.models import Event

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fresh_connection_afterwards():
    yield
    connection.close()  # whatever a test broke, the teardown's flush reconnects


def assert_unavailable(response) -> dict:
    assert response.status_code == 503, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert int(response["Retry-After"]) > 0
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["request_id"] == response["X-Request-ID"]
    return body


def terminate_our_backend() -> None:
    """Have PostgreSQL end this process's connection, from a second connection."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        row = cursor.fetchone()
    assert row is not None
    pid = row[0]
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    with psycopg.connect(**params, autocommit=True) as admin:
        terminated = admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()
        assert terminated
        assert terminated[0]


def books():
    return (
        Transaction.objects.count(),
        Event.objects.count(),
        IdempotencyKey.objects.count(),
        sorted(Account.objects.values_list("balance", flat=True)),
    )


@pytest.mark.postgres
def test_a_terminated_connection_is_503_and_the_next_request_reconnects(customer_client, caplog):
    for path in ("/api/v1/auth/me", "/api/v1/accounts", "/api/v1/events"):
        assert customer_client.get(path).status_code == 200
        terminate_our_backend()
        caplog.clear()

        body = assert_unavailable(customer_client.get(path))

        assert "terminat" not in str(body).lower()  # the server's words stay in the log
        assert connection.settings_dict["HOST"] not in str(body)
        logged = [r for r in caplog.records if r.name == "ledgerflow.problems"]
        assert [r.levelno for r in logged] == [logging.WARNING]
        close_old_connections()  # what Django runs as a request ends: drops the broken one
        assert customer_client.get(path).status_code == 200


@pytest.mark.postgres
def test_a_transfer_that_loses_its_connection_is_503_moves_nothing_and_can_be_retried(
    customer, funded
):
    source, target = funded(customer), funded(customer, "0.00")
    client = client_for(customer)
    before = books()
    body = {"from_account": source.public_id, "to_account": target.public_id, "amount": "1.00"}
    assert client.get("/api/v1/auth/me").status_code == 200  # connected, user cached nowhere
    terminate_our_backend()

    refused = client.post("/api/v1/transfers", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")

    assert_unavailable(refused)
    close_old_connections()
    assert books() == before
    retried = client.post("/api/v1/transfers", body, format="json", HTTP_IDEMPOTENCY_KEY="t-1")
    assert retried.status_code == 201
    assert "Idempotent-Replayed" not in retried  # the first attempt left no record
    assert Transaction.objects.count() == before[0] + 1


@pytest.fixture
def unreachable_database():
    """Point the connection at a database that cannot be opened, then restore it."""
    settings_dict = connection.settings_dict
    saved = {key: settings_dict[key] for key in ("NAME", "PORT")}
    connection.close()
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = "/nonexistent-directory/ledgerflow.sqlite3"
    else:
        settings_dict["PORT"] = "1"  # nothing listens there: connection refused
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


def test_an_unreachable_database_is_503(customer_client, request):
    request.getfixturevalue("unreachable_database")  # after the client's user exists

    for method, path in [
        ("get", "/api/v1/auth/me"),
        ("get", "/api/v1/accounts"),
        ("post", "/api/v1/transfers"),
    ]:
        # A well-formed transfer: it gets past validation to the database.
        transfer = {"from_account": "acc_x", "to_account": "acc_y", "amount": "1.00"}
        data = transfer if method == "post" else {}
        body = assert_unavailable(getattr(customer_client, method)(path, data, format="json"))

        assert "nonexistent" not in str(body)
        assert "refused" not in str(body).lower()
