"""Redis lost or restarted under real gunicorn, Celery worker and beat (private redis-server).

Redis is cache (throttles, /ready) and broker here, as in docker-compose. The database is the
truth: money movements and their idempotency never depend on Redis, and the outbox rows plus
beat's requeue sweeps deliver what was recorded while the broker was gone.
"""

import contextlib
import json
import os
import signal
import time
from pathlib import Path

import pytest

from reporting.models import Export
from tests.faults.conftest import subscribe, wait_until
from webhooks.models import Delivery

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

# Deliveries resume this soon after Redis is back (issue 12).
RESUME_DEADLINE = 60


def transfer(stack, user, source, target, key: str, amount: str = "1.00"):
    return stack.post(
        "/api/v1/transfers",
        json={"from_account": source.public_id, "to_account": target.public_id, "amount": amount},
        headers={**stack.auth(user), "Idempotency-Key": key},
    )


def child_pids(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return [int(child) for child in children]


def delivered_transactions(receiver) -> set[str]:
    ids = set()
    for hit in list(receiver.hits):
        body = json.loads(hit.body)
        if body.get("type") == "transaction.posted":
            ids.add(body["data"]["id"])
    return ids


def test_redis_restarted_under_a_busy_worker_deliveries_resume_within_60s(
    live_stack, customer, other_customer, funded, webhook_receiver
):
    stack = live_stack(beat=True)
    source, target = funded(customer), funded(other_customer, "0")
    subscribe(customer, webhook_receiver.url)
    webhook_receiver.hold.set()
    first = transfer(stack, customer, source, target, "before-restart")
    assert first.status_code == 201, first.text
    wait_until(lambda: webhook_receiver.hits, timeout=60, what="the first delivery")

    celery_pid = child_pids(stack.worker.pid)[0]  # the supervisor's child: celery itself
    stack.redis.kill()
    # kombu 5.7's Redis transport may die here, in restore_unacked: `Unrecoverable error:
    # AttributeError("'NoneType' object has no attribute 'hostname'")`. Whether it does
    # depends on timing (seen in some runs, not in others), so the test makes sure it dies:
    # what matters is that what runs the worker brings it back.
    with contextlib.suppress(ProcessLookupError):
        os.kill(celery_pid, signal.SIGKILL)
    time.sleep(1)
    stack.redis.start()
    back = time.monotonic()
    webhook_receiver.hold.clear()
    webhook_receiver.release.set()
    second = transfer(stack, customer, source, target, "after-restart")
    assert second.status_code == 201, second.text

    expected = {first.json()["id"], second.json()["id"]}
    wait_until(
        lambda: expected <= delivered_transactions(webhook_receiver),
        timeout=RESUME_DEADLINE - (time.monotonic() - back),
        what="both transfers' webhooks after Redis returned",
        logs=stack.logs,
    )
    assert stack.worker.alive()  # the supervisor, which restarted celery when it died
    assert celery_pid not in child_pids(stack.worker.pid)
    wait_until(
        lambda: not Delivery.objects.exclude(status="succeeded").exists(),
        timeout=max(1.0, RESUME_DEADLINE - (time.monotonic() - back)),
        what="every delivery, the cut-off ones included",
        logs=stack.logs,
    )


def test_redis_killed_during_traffic_money_moves_and_everything_is_delivered_after(
    live_stack, customer, other_customer, funded, webhook_receiver
):
    stack = live_stack(beat=True, env={"THROTTLE_USER": "12/min"})
    subscribe(customer, webhook_receiver.url)
    source, target = funded(customer), funded(other_customer, "0")
    reader = stack.auth(other_customer)
    balance_path = f"/api/v1/accounts/{target.public_id}/balance"
    # The limit is live while Redis is up: the 13th read within a minute is refused.
    statuses = [stack.get(balance_path, headers=reader).status_code for _ in range(13)]
    assert statuses == [200] * 12 + [429], statuses

    stack.redis.kill()

    ready = stack.get("/ready")
    assert ready.status_code == 503
    assert ready.headers["Content-Type"].startswith("application/problem+json")
    assert set(ready.json()["down"]) == {"broker", "cache"}

    answers = [transfer(stack, customer, source, target, f"outage-{n}") for n in range(3)]
    assert [a.status_code for a in answers] == [201, 201, 201], [a.text for a in answers]
    replay = transfer(stack, customer, source, target, "outage-0")
    assert replay.status_code == 201
    assert replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.json() == answers[0].json()
    source.refresh_from_db()
    assert source.balance == 100_00 - 3_00  # minor units: three moves, the replay moved nothing
    # Throttling fails open: the reader, over its limit, is served while Redis is gone.
    statuses = [stack.get(balance_path, headers=reader).status_code for _ in range(5)]
    assert statuses == [200] * 5
    export = stack.post(
        "/api/v1/exports",
        json={"kind": "entries", "account": source.public_id},
        headers={**stack.auth(customer), "Idempotency-Key": "outage-export"},
    )
    assert export.status_code == 202, export.text

    stack.redis.start()

    wait_until(
        lambda: stack.get("/ready").status_code == 200, timeout=30, what="/ready", logs=stack.logs
    )
    moved = {a.json()["id"] for a in answers}
    # Deliveries: requeue sweep every 10 s after 15 s grace. Exports: every 30 s after 30 s.
    wait_until(
        lambda: moved <= delivered_transactions(webhook_receiver),
        timeout=90,
        what="the webhooks of the transfers made while Redis was down",
        logs=stack.logs,
    )
    wait_until(
        lambda: Export.objects.filter(public_id=export.json()["id"], status="completed").exists(),
        timeout=90,
        what="the export requested while Redis was down",
        logs=stack.logs,
    )
    wait_until(
        lambda: any(h.event_type == "export.completed" for h in list(webhook_receiver.hits)),
        timeout=30,
        what="the export.completed webhook",
        logs=stack.logs,
    )
