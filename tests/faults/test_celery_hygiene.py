"""Celery hygiene (issue 12.5): limits, queues, redelivery, the request id in tasks, and the
Procfile/compose workers that consume what the routes produce. No processes: configuration
and in-process publishing (kombu's memory transport)."""

import shlex
from pathlib import Path

import pytest
import yaml
from celery.signals import before_task_publish, task_prerun

from ledgerflow.celery import app
from ledgerflow.middleware import current_request_id
from tests.faults.conftest import subscribe

ROOT = Path(__file__).resolve().parents[2]
OURS = ("accounts.", "ledger.", "orders.", "webhooks.", "audit.", "ledgerflow.")
REPORTS = ("ledger.tasks.run_export", "ledger.tasks.verify_ledger")
# Safe to run twice: redelivered when the process running them dies.
REDELIVERED = (
    "webhooks.tasks.deliver_webhook",
    "ledger.tasks.run_export",
    "ledger.tasks.verify_ledger",
    "ledger.tasks.take_snapshots",
    "ledger.tasks.expire_holds",
    "orders.tasks.expire_orders",
)


def our_tasks():
    app.loader.import_default_modules()
    return {name: task for name, task in app.tasks.items() if name.startswith(OURS)}


def test_every_task_has_a_soft_and_a_hard_time_limit():
    tasks = our_tasks()
    assert "webhooks.tasks.deliver_webhook" in tasks
    for name, task in tasks.items():
        soft = task.soft_time_limit or app.conf.task_soft_time_limit
        hard = task.time_limit or app.conf.task_time_limit
        assert soft, name
        assert hard, name
        assert soft < hard, name


def test_a_delivery_is_killed_before_its_lease_ends():
    from webhooks.services import lease_duration

    task = app.tasks["webhooks.tasks.deliver_webhook"]
    assert task.time_limit < lease_duration().total_seconds()


def test_an_export_is_killed_before_another_run_may_take_it_over():
    """A dead worker's `running` export waits out its lease, never a live build's."""
    from reporting.services import EXPORT_LEASE

    task = app.tasks["ledger.tasks.run_export"]
    assert task.time_limit < EXPORT_LEASE.total_seconds() <= task.time_limit + 120


def test_reports_go_to_their_own_queue_and_webhooks_stay_on_the_default_one():
    def queue_of(name: str) -> str:
        route = app.amqp.router.route({}, name)
        return route["queue"].name

    for name in REPORTS:
        assert queue_of(name) == "reports", name
    assert queue_of("webhooks.tasks.deliver_webhook") == "celery"
    assert queue_of("webhooks.tasks.requeue_deliveries") == "celery"


@pytest.mark.parametrize("name", REDELIVERED)
def test_tasks_safe_to_repeat_are_redelivered_when_their_worker_is_lost(name):
    task = our_tasks()[name]
    assert task.acks_late
    assert task.reject_on_worker_lost


def _consumed_queues(argv: list[str]) -> set[str]:
    return set(argv[argv.index("--queues") + 1].split(","))


def test_procfile_and_compose_workers_consume_both_queues_under_the_supervisor():
    procfile = dict(
        line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line
    )
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    for argv in (shlex.split(procfile["worker"]), compose["worker"]["command"]):
        assert "ledgerflow.supervise" in argv
        assert _consumed_queues(argv) == {"celery", "reports"}
    for argv in (shlex.split(procfile["beat"]), compose["beat"]["command"]):
        assert "ledgerflow.supervise" in argv


@pytest.fixture
def memory_broker(monkeypatch):
    """Publish for real (not eager) into kombu's in-process memory transport."""
    monkeypatch.setenv("CELERY_BROKER_URL", "memory://")
    monkeypatch.setitem(app.conf, "broker_url", "memory://")
    monkeypatch.setitem(app.conf, "broker_transport_options", {})
    monkeypatch.setitem(app.conf, "task_always_eager", False)
    app._pool = None
    app.amqp._producer_pool = None
    yield
    app._pool = None
    app.amqp._producer_pool = None


# Transactional: the transfer's on_commit hooks (the enqueue) run when its transaction commits,
# inside the request, as in production; a test transaction would run them after it.
@pytest.mark.django_db(transaction=True)
def test_a_task_published_within_a_request_carries_the_request_id(
    memory_broker,
    customer_client,
    customer,
    other_customer,
    funded,
):
    source, target = funded(customer), funded(other_customer, "0")
    subscribe(customer, "https://hooks.example.com/in")
    published = []

    def capture(sender=None, headers=None, **kwargs):
        published.append((sender, dict(headers or {})))

    before_task_publish.connect(capture)
    try:
        response = customer_client.post(
            "/api/v1/transfers",
            {"from_account": source.public_id, "to_account": target.public_id, "amount": "1"},
            format="json",
            headers={"X-Request-ID": "req-hygiene-1"},
        )
    finally:
        before_task_publish.disconnect(capture)
    assert response.status_code == 201, response.content
    deliveries = [h for name, h in published if name == "webhooks.tasks.deliver_webhook"]
    assert deliveries
    assert {h.get("request_id") for h in deliveries} == {"req-hygiene-1"}


@pytest.mark.django_db
def test_a_task_adopts_the_request_id_of_its_message_and_drops_it_after():
    seen = []

    def look(**kwargs):
        seen.append(current_request_id.get())

    task_prerun.connect(look)  # after ledgerflow.celery's receiver, which sets it
    try:
        app.tasks["webhooks.tasks.requeue_deliveries"].apply(headers={"request_id": "req-x"})
    finally:
        task_prerun.disconnect(look)
    assert seen == ["req-x"]
    assert current_request_id.get() == "-"
