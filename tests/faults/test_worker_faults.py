"""The Celery worker killed with SIGKILL (OOM killer, `docker kill`) mid-delivery and with an
export queued: after a restart every delivery reaches the receiver within 60 s of the kill and
no export stays pending. Also: worker logs are JSON lines carrying the request id of the HTTP
request that enqueued the task.

The worker is the Procfile's (supervisor, celery and its pool: the whole process group dies).
Redis' unacknowledged messages of a killed worker come back only after the visibility timeout
(an hour), so redelivery comes from the database: the lease on the delivery (18 s), then
requeue_deliveries (beat, every 10 s, 15 s grace).
"""

import json
import time

import pytest

from reporting.models import Export
from tests.faults.conftest import subscribe, wait_until
from tests.faults.test_redis_faults import delivered_transactions, transfer
from webhooks.models import Delivery

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.faults]

REDELIVERY_DEADLINE = 60  # seconds from the kill (issue 12)


def test_worker_sigkilled_mid_delivery_and_with_an_export_queued_loses_nothing(
    live_stack, customer, other_customer, funded, webhook_receiver
):
    stack = live_stack(beat=True)
    subscribe(customer, webhook_receiver.url, events=("transaction.posted", "export.completed"))
    source, target = funded(customer), funded(other_customer, "0")
    webhook_receiver.hold.set()  # both pool processes stuck sending
    answers = [
        transfer(stack, customer, source, target, key, amount)
        for key, amount in (("kill-1", "1.00"), ("kill-2", "2.00"))
    ]
    assert [a.status_code for a in answers] == [201, 201], [a.text for a in answers]
    moved = {a.json()["id"] for a in answers}
    wait_until(
        lambda: len(webhook_receiver.event_ids()) >= 2,
        timeout=60,
        what="both deliveries in flight",
        logs=stack.logs,
    )
    export = stack.post(
        "/api/v1/exports",
        json={"kind": "entries", "account": source.public_id},
        headers={**stack.auth(customer), "Idempotency-Key": "kill-export"},
    )
    assert export.status_code == 202, export.text

    stack.worker.kill()
    killed = time.monotonic()
    webhook_receiver.hold.clear()
    webhook_receiver.release.set()
    stack.start_worker()

    def redelivered() -> bool:
        hits = [h for h in list(webhook_receiver.hits) if h.at > killed]
        return moved <= delivered_transactions_of(hits)

    wait_until(
        redelivered,
        timeout=REDELIVERY_DEADLINE - (time.monotonic() - killed),
        what="both cut-off deliveries again",
        logs=stack.logs,
    )
    wait_until(
        lambda: not Export.objects.exclude(status="completed").exists(),
        timeout=60,
        what="the export queued when the worker died",
        logs=stack.logs,
    )
    wait_until(
        lambda: not Delivery.objects.exclude(status="succeeded").exists(),
        timeout=60,
        what="every delivery succeeded",
        logs=stack.logs,
    )
    assert moved <= delivered_transactions(webhook_receiver)
    # Beat logs JSON lines too (LOGGING, like web and worker): its sweeps are in them.
    beat_lines = [json.loads(x) for x in stack.beat.log.read_text().splitlines() if x[:1] == "{"]
    assert any("requeue-deliveries" in line["message"] for line in beat_lines)


def delivered_transactions_of(hits) -> set[str]:
    return {json.loads(h.body)["data"]["id"] for h in hits if h.event_type == "transaction.posted"}


def test_worker_logs_are_json_lines_with_the_request_id_of_the_request(
    live_stack, customer, other_customer, funded, webhook_receiver
):
    stack = live_stack(beat=False)
    source, target = funded(customer), funded(other_customer, "0")
    subscribe(customer, webhook_receiver.url)  # after the deposits: only the transfer's event
    request_id = "faults-req-0123456789"
    answer = stack.post(
        "/api/v1/transfers",
        json={"from_account": source.public_id, "to_account": target.public_id, "amount": "1"},
        headers={**stack.auth(customer), "Idempotency-Key": "rid", "X-Request-ID": request_id},
    )
    assert answer.status_code == 201, answer.text
    wait_until(
        lambda: answer.json()["id"] in delivered_transactions(webhook_receiver),
        timeout=60,
        what="the delivery",
        logs=stack.logs,
    )

    def task_lines() -> list[dict]:
        lines = []
        for line in stack.worker.log.read_text().splitlines():
            if line.startswith("{"):
                record = json.loads(line)
                # The pool process's lines (the main process only receives the message).
                if (
                    record["logger"] == "celery.app.trace"
                    and "deliver_webhook" in record["message"]
                ):
                    lines.append(record)
        return lines

    records = wait_until(task_lines, timeout=10, what="the task's log lines", logs=stack.logs)
    assert {r["request_id"] for r in records} == {request_id}, records
    assert {"time", "level", "logger", "message"} <= set(records[0])
