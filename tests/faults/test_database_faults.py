"""PostgreSQL connections killed under a real gunicorn: 201 or a clear 503, never a 500.

While 8 client threads transfer through gunicorn (the Procfile's command line), the test has
PostgreSQL terminate the app's backends (`pg_terminate_backend`, as a failover or an operator's
restart does) again and again: idle pooled connections (CONN_MAX_AGE), ones in the middle of
a transaction, ones at COMMIT and ones being opened. Each client retries a refused transfer
with the same Idempotency-Key until it is acknowledged. Threads act as customers (JWT, no
database read to authenticate), as an operator (JWT, the user row is read) and as an API key
(read and touched), so the kills also land in the authentication step.

Guarantees: every answer is 201 or 503 `service_unavailable` problem+json with Retry-After;
every key moved money exactly once (a COMMIT cut off after it happened is replayed, not
repeated); money is conserved and `verify_ledger` passes.
"""

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

import psycopg
import pytest
import requests
from django.db import connection

from accounts.services import create_api_key
from accounts.tests.factories import UserFactory
from ledger.models import IdempotencyKey, Transaction
from ledgerflow.money import to_minor
from tests.faults.conftest import database_url
from tests.faults.ledger_checks import (
    assert_money_conserved,
    asset_totals,
    balances,
    references_seen,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

APP_NAME = "lf-faults-web"  # gunicorn's backends carry it: the test kills those, nothing else
THREADS = 8
TRANSFERS_PER_THREAD = 25
ATTEMPTS = 100  # per key; a refused attempt is retried after a short pause
HIGH_RATES = {name: "1000000/min" for name in ("THROTTLE_USER", "THROTTLE_ANON", "THROTTLE_AUTH")}


@dataclass
class Outcomes:
    lock: threading.Lock = field(default_factory=threading.Lock)
    answers: Counter = field(default_factory=Counter)  # status code -> count
    wrong: list = field(default_factory=list)  # (status, content type, body) of bad answers
    dropped: list = field(default_factory=list)  # connection errors: no answer at all
    acknowledged: dict = field(default_factory=dict)  # key -> (transaction id, replayed)


def _is_clear_503(response: requests.Response) -> bool:
    if response.headers.get("Content-Type") != "application/problem+json":
        return False
    retry_after = response.headers.get("Retry-After", "")
    return (
        response.json().get("code") == "service_unavailable"
        and retry_after.isdigit()
        and int(retry_after) > 0
    )


def _transfer_until_acknowledged(stack, headers, key, body, outcomes: Outcomes) -> None:
    for _ in range(ATTEMPTS):
        try:
            response = stack.post(
                "/api/v1/transfers", json=body, headers={**headers, "Idempotency-Key": key}
            )
        except requests.RequestException as exc:
            with outcomes.lock:
                outcomes.dropped.append(f"{key}: {exc!r}")
            time.sleep(0.05)
            continue
        with outcomes.lock:
            outcomes.answers[response.status_code] += 1
            if response.status_code == 201:
                replayed = response.headers.get("Idempotent-Replayed") == "true"
                outcomes.acknowledged[key] = (response.json()["id"], replayed)
                return
            if response.status_code != 503 or not _is_clear_503(response):
                outcomes.wrong.append(
                    (response.status_code, response.headers.get("Content-Type"), response.text)
                )
                return
        time.sleep(random.uniform(0.01, 0.05))


def _kill_app_backends(conninfo: dict, stop: threading.Event, kills: Counter) -> None:
    """Until `stop`, every few tens of milliseconds terminate one backend gunicorn holds,
    whatever it is doing; `kills` counts them by the state they were in (idle, active, ...)."""
    with psycopg.connect(**conninfo, autocommit=True) as admin:
        while not stop.is_set():
            row = admin.execute(
                "SELECT state, pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s"
                " ORDER BY random() LIMIT 1",
                [APP_NAME],
            ).fetchone()
            if row is not None and row[1]:
                kills[row[0]] += 1
            stop.wait(random.uniform(0.01, 0.08))


def _admin_conninfo() -> dict:
    params = connection.get_connection_params()
    return {k: params[k] for k in ("dbname", "user", "password", "host", "port") if params.get(k)}


def test_killed_connections_answer_201_or_503_and_every_key_moves_money_once(live_stack, funded):
    customers = [UserFactory() for _ in range(4)]
    operator = UserFactory(is_staff=True, rights=["ledger.transfer_any", "ledger.deposit"])
    _, raw_key = create_api_key(actor=operator, name="fault-test")
    owners = [*customers, *UserFactory.create_batch(4)]
    accounts = [funded(owner, "1000.00") for owner in owners]
    stack = live_stack(
        worker=False,
        env={**HIGH_RATES, "DATABASE_URL": f"{database_url()}?application_name={APP_NAME}"},
    )
    principals = [stack.auth(c) for c in customers]
    principals += [stack.auth(operator)] * 2
    principals += [{"Authorization": f"Api-Key {raw_key}"}] * 2
    totals_before, balances_before = asset_totals(), balances(accounts)
    plan = {  # key -> (thread, source index, target index, amount)
        f"kill-{i}-{n}": (i, i, (i + 1) % THREADS, Decimal(f"{n % 7 + 1}.{i:02d}"))
        for i in range(THREADS)
        for n in range(TRANSFERS_PER_THREAD)
    }
    outcomes, stop, kills = Outcomes(), threading.Event(), Counter()

    def client(thread: int) -> None:
        for key, (i, source, target, amount) in plan.items():
            if i == thread:
                body = {
                    "from_account": accounts[source].public_id,
                    "to_account": accounts[target].public_id,
                    "amount": str(amount),
                    "reference": key,
                }
                _transfer_until_acknowledged(stack, principals[thread], key, body, outcomes)

    killer = threading.Thread(target=_kill_app_backends, args=(_admin_conninfo(), stop, kills))
    clients = [threading.Thread(target=client, args=(i,)) for i in range(THREADS)]
    killer.start()
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    stop.set()
    killer.join()

    # Every answer was 201 or a clear 503; none was a 500 or anything else, none was dropped.
    assert outcomes.wrong == []
    assert outcomes.dropped == []
    assert set(outcomes.answers) <= {201, 503}
    # The fault happened, also mid-transaction, and it reached requests.
    assert kills.total() >= 20, kills
    assert kills["active"] + kills["idle in transaction"] >= 5, kills
    assert outcomes.answers[503] >= 5, outcomes.answers
    # Every key was acknowledged and exists exactly once, as the transaction it answered with.
    assert set(outcomes.acknowledged) == set(plan)
    assert references_seen(plan) == Counter(dict.fromkeys(plan, 1))
    recorded = dict(
        Transaction.objects.filter(reference__in=list(plan)).values_list("reference", "public_id")
    )
    assert recorded == {key: txn_id for key, (txn_id, _) in outcomes.acknowledged.items()}
    assert IdempotencyKey.objects.filter(key__in=list(plan)).count() == len(plan)
    # Each account moved exactly what its acknowledged transfers say.
    expected = dict(balances_before)
    for _, source, target, amount in plan.values():
        minor = to_minor(amount, 2)
        expected[accounts[source].pk] -= minor
        expected[accounts[target].pk] += minor
    assert balances(accounts) == expected
    assert_money_conserved(totals_before)
