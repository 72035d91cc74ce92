"""End to end with a real Celery worker process on Redis and PostgreSQL (no eager mode).

The test process commits real transactions; its on_commit hooks publish to Redis; a
`celery worker --pool solo` subprocess, pointed at the same test database, delivers.
"""

import os
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.utils import timezone

from ledger.services import post_transfer
from webhooks import services
from webhooks.models import Delivery
from webhooks.tests.conftest import verify_signature

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WORKER_ENV = {
    "WEBHOOKS_ALLOW_PRIVATE_URLS": "true",
    "WEBHOOK_TIMEOUT_CONNECT": "1",
    "WEBHOOK_TIMEOUT_READ": "3",
    "WEBHOOK_BACKOFF_BASE": "0.1",
    "CELERY_TASK_ALWAYS_EAGER": "false",
    "CONN_MAX_AGE": "0",
    "LOG_JSON": "false",
}


def _redis_url() -> str:
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://"):
        return url
    return os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/7"


def _reset_broker_pools(app) -> None:
    # Celery caches its broker pools on first publish; kombu keeps them per URL for reuse.
    app._pool = None
    app.amqp._producer_pool = None


@pytest.fixture
def redis_broker():
    """Point this process's Celery app at Redis for the test, with an empty queue."""
    import redis

    from ledgerflow.celery import app

    url = _redis_url()
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip(f"Redis not reachable at {url}")
    previous = (app.conf.broker_url, app.conf.broker_transport_options)
    app.conf.broker_url, app.conf.broker_transport_options = url, {}
    _reset_broker_pools(app)
    app.control.purge()
    yield url
    app.conf.broker_url, app.conf.broker_transport_options = previous
    _reset_broker_pools(app)


def _database_url() -> str:
    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="")
    if db["PASSWORD"]:
        auth += ":" + quote(db["PASSWORD"], safe="")
    host = db["HOST"] or "127.0.0.1"
    return f"postgres://{auth}@{host}:{db['PORT'] or 5432}/{db['NAME']}"


class Workers:
    """Starts `celery worker --pool solo` subprocesses; kills what is left at teardown."""

    def __init__(self, broker_url: str, log_dir: Path) -> None:
        self.broker_url, self.log_dir = broker_url, log_dir
        self.processes: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        env = {
            **os.environ,
            **WORKER_ENV,
            "DATABASE_URL": _database_url(),
            "CELERY_BROKER_URL": self.broker_url,
        }
        log_path = self.log_dir / f"worker-{len(self.processes)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    str(Path(django_settings.BASE_DIR) / ".venv" / "bin" / "celery"),
                    "-A",
                    "ledgerflow",
                    "worker",
                    "--pool",
                    "solo",
                    "-c",
                    "1",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "-l",
                    "info",
                    "-n",
                    f"webhooks-test-{uuid.uuid4().hex[:8]}@%h",
                ],
                cwd=django_settings.BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        # Wait until the worker consumes: on a loaded machine start-up alone can take many
        # seconds, and the tests' deadlines are about delivery, not about booting Celery.
        deadline = time.monotonic() + 90
        while b"ready." not in log_path.read_bytes():
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start\n{self.logs()}")
            time.sleep(0.2)
        return process

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.log_dir.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


@pytest.fixture
def workers(redis_broker, tmp_path):
    started = Workers(redis_broker, tmp_path)
    yield started
    started.stop_all()


def wait_for_status(delivery_id: int, status: str, workers: Workers, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        delivery = Delivery.objects.get(pk=delivery_id)
        if delivery.status == status:
            return delivery
        time.sleep(0.1)
    raise AssertionError(f"delivery is {delivery.status}, not {status}\n{workers.logs()}")


def test_a_worker_delivers_a_committed_transfer_with_a_valid_signature(
    customer, other_customer, funded, receiver, workers, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    source, target = funded(customer), funded(other_customer, "0")
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    workers.start()

    txn = post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("7.5")
    )

    delivery = Delivery.objects.get(endpoint=endpoint)
    delivery = wait_for_status(delivery.pk, "succeeded", workers)
    (request,) = receiver.requests
    assert request.json["type"] == "transaction.posted"
    assert request.json["data"]["id"] == txn.public_id
    assert request.json["data"]["amount"] == "7.50"
    assert request.headers["LedgerFlow-Event-Id"] == str(delivery.event_id)
    assert verify_signature(request.headers["LedgerFlow-Signature"], request.body, endpoint.secret)
    assert (delivery.attempts, delivery.last_status_code) == (1, 200)


def test_a_worker_killed_mid_delivery_loses_nothing(customer, receiver, workers, settings):
    from accounts.services import open_account
    from accounts.tests.factories import AssetFactory

    AssetFactory(code="USD")  # transactional tests lose migration data: make sure it is there
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    endpoint = services.create_endpoint(actor=customer, url=receiver.url)
    receiver.delay = 30  # the first request hangs: the worker is busy sending it
    first_worker = workers.start()

    open_account(actor=customer, asset_code="USD")

    assert receiver.arrived.wait(60), workers.logs()
    first_worker.send_signal(signal.SIGKILL)
    first_worker.wait(timeout=10)
    receiver.delay = 0
    delivery = Delivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    assert delivery.next_attempt_at > timezone.now()  # leased by the dead worker
    assert services.requeue_deliveries(grace=timedelta(0)) == 0  # the lease holds

    time.sleep(max(0.0, (delivery.next_attempt_at - timezone.now()).total_seconds()) + 0.2)
    assert services.requeue_deliveries(grace=timedelta(0)) == 1
    workers.start()

    delivery = wait_for_status(delivery.pk, "succeeded", workers)
    first, second = receiver.requests
    assert first.body == second.body  # the same event, sent again: receivers dedupe by id
    assert second.headers["LedgerFlow-Event-Id"] == str(delivery.event_id)
    assert delivery.attempts == 1
