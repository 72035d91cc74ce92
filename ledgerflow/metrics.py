"""Business metrics (Prometheus), counted once per outcome that stands.

A request's unit of work (`ledgerflow.db.retry_on_contention`, the idempotency layer) may run
more than once: an attempt is rolled back and retried on contention, or its answer is replaced
by the stored one of a duplicate that committed first. The business counters below are
`HeldCounter`s: what an attempt counts (a refusal for funds, a risk decision, a posted
movement once its transaction commits) is held until the attempt settles, and counted then,
after the atomic block, if its outcome stands (committed, or refused for good); a retried
attempt, or one answered by a replay, counts nothing. Outside a unit (a Celery task, the
shell, a test's own transaction) an increment counts at once. Successes are still counted
from `transaction.on_commit`, so a rollback counts as nothing there either.
"""

import contextvars
import logging
import os
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from celery import signals
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily

logger = logging.getLogger(__name__)


# --- counted when the attempt settles --------------------------------------------------------


class HeldCounts:
    """Increments made during one attempt of a unit of work, not yet counted."""

    def __init__(self) -> None:
        self.pending: list[Callable[[], None]] = []

    def drop(self) -> None:
        self.pending.clear()

    def count(self) -> None:
        pending, self.pending = self.pending, []
        for increment in pending:
            increment()


_held: contextvars.ContextVar[HeldCounts | None] = contextvars.ContextVar(
    "ledgerflow_held_counts", default=None
)


@contextmanager
def attempt_counts() -> Iterator[HeldCounts]:
    """Hold what the block counts until it ends; then count it, unless `drop()`ped (a retry).

    Nested blocks join the outermost one: it alone settles (retry_on_contention opens it).
    """
    outer = _held.get()
    if outer is not None:
        yield outer
        return
    held = HeldCounts()
    token = _held.set(held)
    try:
        yield held
    finally:
        _held.reset(token)
        held.count()


def drop_held_counts() -> None:
    """Forget what the current attempt counted so far (its work was replaced by a replay)."""
    held = _held.get()
    if held is not None:
        held.drop()


class _HeldChild:
    def __init__(self, child: Any) -> None:
        self._child = child

    def __getattr__(self, name: str) -> Any:  # the rest is the child's (e.g. `_value`)
        return getattr(self._child, name)

    def inc(self, amount: float = 1) -> None:
        held = _held.get()
        if held is None:
            self._child.inc(amount)
        else:
            held.pending.append(lambda: self._child.inc(amount))


class HeldCounter:
    """A prometheus Counter whose increments inside an attempt wait for it to settle."""

    def __init__(self, name: str, documentation: str, labelnames: Iterable[str] = ()) -> None:
        self.counter = Counter(name, documentation, list(labelnames))

    def labels(self, *args: Any, **kwargs: Any) -> _HeldChild:
        return _HeldChild(self.counter.labels(*args, **kwargs))

    def inc(self, amount: float = 1) -> None:
        _HeldChild(self.counter).inc(amount)

    def __getattr__(self, name: str) -> Any:  # the rest is the Counter's
        return getattr(self.counter, name)


TRANSFERS = HeldCounter(
    "ledgerflow_transfers", "Money movements by kind and outcome", ["kind", "outcome"]
)
TRANSFER_VOLUME = HeldCounter(
    "ledgerflow_transfer_volume_minor", "Posted volume in minor units by asset", ["asset"]
)
IDEMPOTENT_REPLAYS = HeldCounter("ledgerflow_idempotent_replays", "Responses replayed by key")
INSUFFICIENT_FUNDS = HeldCounter("ledgerflow_insufficient_funds", "Movements refused for funds")
ORDERS = HeldCounter("ledgerflow_orders", "Order transitions by resulting status", ["status"])
# Gauges say how to combine processes under PROMETHEUS_MULTIPROC_DIR: the latest value wins.
PENDING_ORDERS = Gauge(
    "ledgerflow_pending_orders",
    "Pending orders (set by the orders selector)",
    multiprocess_mode="mostrecent",
)
WEBHOOK_DELIVERIES = Counter(
    "ledgerflow_webhook_deliveries", "Webhook delivery attempts by outcome", ["outcome"]
)
WEBHOOK_DELIVERY_LAG = Histogram(
    "ledgerflow_webhook_delivery_lag_seconds",
    "Event created -> delivered",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600, 21600),
)
WEBHOOK_REQUEUED = Counter(
    "ledgerflow_webhook_requeued", "Overdue webhook deliveries re-enqueued (lost messages)"
)
VERIFY_VIOLATIONS = Gauge(
    "ledgerflow_verify_ledger_violations",
    "Violations at the last run",
    multiprocess_mode="mostrecent",
)
VERIFY_LAST_RUN = Gauge(
    "ledgerflow_verify_ledger_last_run_timestamp_seconds",
    "Unix time of the last verify_ledger",
    multiprocess_mode="mostrecent",
)
RISK_DECISIONS = HeldCounter(
    "ledgerflow_risk_decisions",
    "Risk rule evaluations by rule kind and decision",
    ["rule_kind", "decision"],
)
HOLDS = HeldCounter("ledgerflow_holds", "Two-phase transfer steps by outcome", ["outcome"])

# --- build, Celery tasks and queues, state read at scrape time ------------------------------
# Appended for operations (alert rules in deploy/prometheus/alerts.yml use these names; a test
# checks that every name a rule or Grafana panel reads is exported here).


def _version() -> str:
    try:
        with (Path(__file__).resolve().parent.parent / "pyproject.toml").open("rb") as file:
            return tomllib.load(file)["project"]["version"]
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


BUILD_INFO = Gauge(
    "ledgerflow_build_info",
    "Always 1: the running build (pyproject version, GIT_SHA baked into the image)",
    ["version", "git_sha"],
    multiprocess_mode="max",
)
BUILD_INFO.labels(version=_version(), git_sha=os.environ.get("GIT_SHA") or "unknown").set(1)

CELERY_TASKS = Counter(
    "ledgerflow_celery_tasks", "Celery tasks finished, by task name and state", ["task", "state"]
)
CELERY_TASK_DURATION = Histogram(
    "ledgerflow_celery_task_duration_seconds",
    "Celery task run time (prerun -> postrun) by task name",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
CELERY_TASK_LAST_SUCCESS = Gauge(
    "ledgerflow_celery_task_last_success_timestamp_seconds",
    "Unix time a task of this name last succeeded (snapshots late, beat or workers down)",
    ["task"],
    multiprocess_mode="max",
)
# task id -> monotonic start; a prefork child runs one task at a time, threads/eager a few.
_task_started: dict[str, float] = {}


@signals.task_prerun.connect
def _celery_task_started(task_id: str | None = None, **kwargs) -> None:
    if task_id:
        _task_started[task_id] = time.monotonic()


@signals.task_postrun.connect
def _celery_task_finished(
    task_id: str | None = None, task=None, state: str | None = None, **kwargs
) -> None:
    name = getattr(task, "name", None) or "unknown"
    started = _task_started.pop(task_id, None) if task_id else None
    CELERY_TASKS.labels(task=name, state=state or "UNKNOWN").inc()
    if started is not None:
        CELERY_TASK_DURATION.labels(task=name).observe(time.monotonic() - started)
    if state == "SUCCESS":
        CELERY_TASK_LAST_SUCCESS.labels(task=name).set(time.time())


@signals.task_revoked.connect
def _celery_task_revoked(request=None, **kwargs) -> None:
    name = getattr(request, "task", None) or "unknown"
    CELERY_TASKS.labels(task=name, state="REVOKED").inc()


# Seconds the scrape may wait on the database or the broker (Prometheus times out at 10 s).
STATE_TIMEOUT = 2
# A pending delivery due longer ago than this is overdue (the admin dashboard's definition).
OVERDUE_AFTER = timedelta(minutes=1)


def queue_names(app) -> list[str]:
    """The default queue plus every queue named in task_queues or task_routes."""
    names = {app.conf.task_default_queue}
    for queue in app.conf.task_queues or ():
        names.add(queue.name)
    routes = app.conf.task_routes
    if isinstance(routes, dict):
        for route in routes.values():
            if isinstance(route, dict) and route.get("queue"):
                names.add(route["queue"])
    return sorted(names)


def queue_lengths(names: list[str] | None = None) -> dict[str, int]:
    """Messages waiting in each queue (default: queue_names), asked of the broker with a
    passive declare, which creates nothing."""
    from ledgerflow.celery import app

    lengths = {}
    with app.connection_for_read(
        connect_timeout=STATE_TIMEOUT, transport_options={"socket_timeout": STATE_TIMEOUT}
    ) as conn:
        conn.ensure_connection(max_retries=0)
        for name in names if names is not None else queue_names(app):
            # One channel per queue: AMQP closes the channel on a missing queue.
            with conn.channel() as channel:
                try:
                    lengths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except conn.channel_errors:
                    lengths[name] = 0  # never declared or emptied away (Redis drops empty lists)
    return lengths


class StateCollector:
    """Figures read from the database and the broker when Prometheus scrapes.

    Counters say what happened in a process; these say how things stand (the outbox backlog,
    holds waiting for review, queue lengths), right from the first scrape and whichever
    process answers it. `ledgerflow_state_up{source}` is 0 when a source could not be read.
    """

    def __init__(self, *, close_connections: bool = False) -> None:
        # True off Django's request cycle (gunicorn's metrics port): prometheus_client serves
        # each scrape on a new thread, whose connection nothing else would close.
        self.close_connections = close_connections

    def collect(self):
        from django.db import connections

        up = GaugeMetricFamily(
            "ledgerflow_state_up", "1 when the scrape could read this source", labels=["source"]
        )
        try:
            yield from self._database()
            up.add_metric(["database"], 1)
        except Exception:
            logger.warning("metrics: database state unreadable", exc_info=True)
            up.add_metric(["database"], 0)
        finally:
            if self.close_connections:
                connections.close_all()
        try:
            lengths = queue_lengths()
        except Exception:
            logger.warning("metrics: broker queue lengths unreadable", exc_info=True)
            up.add_metric(["broker"], 0)
        else:
            queues = GaugeMetricFamily(
                "ledgerflow_celery_queue_length",
                "Messages waiting in the broker queue",
                labels=["queue"],
            )
            for name, length in lengths.items():
                queues.add_metric([name], length)
            yield queues
            up.add_metric(["broker"], 1)
        yield up

    def _database(self):
        from django.utils import timezone

        now = timezone.now()
        deliveries = _state_source("outbox")(now=now, overdue_after=OVERDUE_AFTER)
        holds = _state_source("holds")()
        oldest = deliveries["oldest"]
        for name, documentation, value in (
            (
                "ledgerflow_outbox_pending_deliveries",
                "Webhook deliveries not yet sent",
                deliveries["pending"],
            ),
            (
                "ledgerflow_outbox_overdue_deliveries",
                "Pending webhook deliveries due more than a minute ago",
                deliveries["overdue"],
            ),
            (
                "ledgerflow_outbox_failed_deliveries",
                "Webhook deliveries that gave up",
                deliveries["failed"],
            ),
            (
                "ledgerflow_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending webhook delivery (0 when none)",
                (now - oldest).total_seconds() if oldest else 0,
            ),
            (
                "ledgerflow_holds_pending",
                "Two-phase holds not yet posted or voided",
                holds["pending"],
            ),
            (
                "ledgerflow_holds_in_review",
                "Holds waiting for an operator's review",
                holds["review"],
            ),
        ):
            yield GaugeMetricFamily(name, documentation, value=value)


# What the scrape reads from the database comes from the apps' selectors, registered in their
# AppConfig.ready() (this package imports no app). name -> the call and what it returns:
STATE_SOURCES = {
    # webhooks: {"pending", "overdue", "failed", "oldest" (created_at of the oldest pending)}
    "outbox": "(*, now, overdue_after) -> dict",
    # ledger: {"pending" (holds not yet posted or voided), "review" (of them, held for review)}
    "holds": "() -> dict",
}
_state_sources: dict[str, Callable[..., dict]] = {}


def register_state_source(name: str, figures: Callable[..., dict]) -> None:
    """Feed the scrape-time gauges of `name` (a key of STATE_SOURCES) from `figures`."""
    if name not in STATE_SOURCES:
        raise ValueError(f"No state source {name!r}; known: {', '.join(STATE_SOURCES)}.")
    _state_sources[name] = figures


def _state_source(name: str) -> Callable[..., dict]:
    try:
        return _state_sources[name]
    except KeyError:  # the scrape then says ledgerflow_state_up{source="database"} 0
        raise LookupError(f"No app registered the state source {name!r}.") from None


class _ThisProcess:
    """The default registry as one collector, to add STATE beside it without registering there."""

    def collect(self):
        return REGISTRY.collect()


def scrape_registry(*, close_connections: bool = False) -> CollectorRegistry:
    """What a scrape serves: every process's samples (multiprocess) or this one's, plus state."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(StateCollector(close_connections=close_connections))
    return registry


def export(request):
    """The /metrics body (ledgerflow.health.metrics checks the token first)."""
    from django.http import HttpResponse
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    return HttpResponse(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)
