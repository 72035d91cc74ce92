"""Operations metrics: build info, Celery tasks and queues, the state read at scrape time, the
alert rules and Grafana panels reading only what /metrics exports, gunicorn.conf.py as the one
web command line, and the admin's link to Grafana."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from kombu import Exchange, Queue
from prometheus_client.parser import text_string_to_metric_families

from accounts.tests.factories import UserFactory
from ledger import tasks as ledger_tasks
from ledgerflow import metrics
from ledgerflow.celery import app
from ledgerflow.tests.test_admin_dashboard import make_activity

ROOT = Path(settings.BASE_DIR)
TOKEN = "ops-metrics-test-token"
# Names Prometheus adds itself to every target's samples.
PROMETHEUS_OWN = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}


def scrape(client, settings) -> dict:
    """GET /metrics as Prometheus does: {family name: family}."""
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    return {
        family.name: family for family in text_string_to_metric_families(response.content.decode())
    }


def value(families: dict, name: str, **labels) -> float:
    [sample] = [  # a counter's family drops `_total`: look the sample up by its own name
        sample
        for family in families.values()
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]
    return sample.value


def queryable_names(families: dict) -> set[str]:
    """Every series name a PromQL expression can read from these families."""
    suffixes = {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gauge": ("",),
    }
    return {
        family.name + suffix
        for family in families.values()
        for suffix in suffixes.get(family.type, ("",))
    }


PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
PROMQL_WORDS |= {"unless", "bool", "offset", "inf", "nan"}


def metric_names(expr: str) -> set[str]:
    """The series names a PromQL expression reads (functions, labels and keywords left out)."""
    expr = re.sub(r'"[^"]*"', "", expr)  # strings
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # ranges
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    names = set()
    for match in re.finditer(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(\s*\()?", expr):
        word, call = match.groups()
        if call or word.lower() in PROMQL_WORDS or re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


def test_metric_names_reads_promql_as_prometheus_does():
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{x="y"}[5m]))) > 1 '
        "and on () (sum(rate(b_total[10m])) or vector(0)) == 0 or absent(up{job='w'})"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "up"}


@pytest.mark.django_db
def test_alert_rules_and_dashboard_read_only_metrics_the_app_exports(client, settings):
    exported = queryable_names(scrape(client, settings)) | PROMETHEUS_OWN
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "ledgerflow.json").read_text()
    )
    exprs = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    exprs += [t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t]
    read = set().union(*(metric_names(expr) for expr in exprs))

    assert len(read) > 20
    assert read - exported == set()


@pytest.mark.django_db
def test_dashboard_has_panels_for_holds_risk_requeues_and_the_outbox():
    dashboard = json.loads(
        (ROOT / "deploy" / "grafana" / "dashboards" / "ledgerflow.json").read_text()
    )
    exprs = " ".join(
        t["expr"] for p in dashboard["panels"] for t in p.get("targets", []) if "expr" in t
    )
    for name in (
        "ledgerflow_holds_total",
        "ledgerflow_holds_in_review",
        "ledgerflow_risk_decisions_total",
        "ledgerflow_webhook_requeued_total",
        "ledgerflow_outbox_pending_deliveries",
        "ledgerflow_celery_tasks_total",
        "ledgerflow_celery_queue_length",
        "ledgerflow_build_info",
    ):
        assert name in exprs, name


@pytest.mark.django_db
def test_the_first_scrape_shows_the_outbox_backlog_and_holds(
    client, settings, customer, other_customer, funded
):
    make_activity(customer, other_customer, funded)  # 1 review hold; deliveries in 3 states

    families = scrape(client, settings)

    assert value(families, "ledgerflow_outbox_pending_deliveries") == 1
    assert value(families, "ledgerflow_outbox_overdue_deliveries") == 1
    assert value(families, "ledgerflow_outbox_failed_deliveries") == 1
    assert value(families, "ledgerflow_outbox_oldest_pending_age_seconds") > 0
    assert value(families, "ledgerflow_holds_pending") == 1
    assert value(families, "ledgerflow_holds_in_review") == 1
    assert value(families, "ledgerflow_state_up", source="database") == 1
    assert value(families, "ledgerflow_state_up", source="broker") == 1
    queues = {s.labels["queue"] for s in families["ledgerflow_celery_queue_length"].samples}
    assert queues == set(metrics.queue_names(app))
    assert {"celery", "reports"} <= queues


def test_queue_length_is_what_waits_in_the_broker():
    """A queue of this test's own on the configured broker: 3 messages published, 3 counted."""
    name = f"lf-test-{uuid.uuid4().hex[:12]}"
    queue = Queue(name, Exchange(name, type="direct"), routing_key=name)
    with app.connection_for_write() as conn:
        producer = conn.Producer()
        for number in range(3):
            producer.publish(
                {"n": number}, exchange=queue.exchange, routing_key=name, declare=[queue]
            )
        try:
            assert metrics.queue_lengths([name]) == {name: 3}
        finally:
            queue(conn.default_channel).delete()


def test_a_broker_that_is_down_is_reported_not_raised(monkeypatch):
    class DownBroker(metrics.StateCollector):
        def _database(self):
            return iter(())

    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    # The stored setting, not the `broker_url` property: that reads the variable set below, so
    # monkeypatch would "restore" the down broker for every later test of this process.
    monkeypatch.setitem(app.conf, "broker_url", down)
    monkeypatch.setenv("CELERY_BROKER_URL", down)  # Celery prefers it to the setting

    families = {family.name: family for family in DownBroker().collect()}

    assert "ledgerflow_celery_queue_length" not in families
    assert value(families, "ledgerflow_state_up", source="broker") == 0


def sample(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.django_db
def test_celery_tasks_are_counted_by_name_and_state_with_durations():
    name = ledger_tasks.expire_holds.name
    before = sample("ledgerflow_celery_tasks_total", task=name, state="SUCCESS")
    durations = sample("ledgerflow_celery_task_duration_seconds_count", task=name)
    started = time.time()

    ledger_tasks.expire_holds.apply()  # the real task through Celery's tracer (signals)

    assert sample("ledgerflow_celery_tasks_total", task=name, state="SUCCESS") == before + 1
    assert sample("ledgerflow_celery_task_duration_seconds_count", task=name) == durations + 1
    last = sample("ledgerflow_celery_task_last_success_timestamp_seconds", task=name)
    assert last >= started


@app.task(name="ledgerflow.tests.fails_on_purpose")
def fails_on_purpose() -> None:
    raise RuntimeError("boom")


def test_a_failing_task_is_counted_as_failure_and_not_as_success():
    name = fails_on_purpose.name
    failures = sample("ledgerflow_celery_tasks_total", task=name, state="FAILURE")

    # throw=False: handled as a worker handles it (the tests' eager mode would re-raise first).
    result = fails_on_purpose.apply(throw=False)

    assert result.failed()

    assert sample("ledgerflow_celery_tasks_total", task=name, state="FAILURE") == failures + 1
    assert sample("ledgerflow_celery_tasks_total", task=name, state="SUCCESS") == 0
    assert sample("ledgerflow_celery_task_last_success_timestamp_seconds", task=name) == 0


def test_build_info_names_the_version_and_the_git_sha_of_the_image():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    code = (
        "import django; django.setup(); from prometheus_client import REGISTRY; "
        "import ledgerflow.metrics; "
        "print(REGISTRY.get_sample_value('ledgerflow_build_info', "
        f"{{'version': '{version}', 'git_sha': 'abc123def'}}))"
    )
    env = {**os.environ, "GIT_SHA": "abc123def", "DJANGO_SETTINGS_MODULE": "ledgerflow.settings"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    result = subprocess.run(  # a fresh process: the label is set when metrics is imported
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.stdout.strip().splitlines()[-1] == "1.0", result.stderr


# --- the admin links to Grafana ------------------------------------------------------------


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.mark.django_db
def test_admin_dashboard_links_to_grafana_when_set(admin_client, settings):
    settings.GRAFANA_URL = "https://grafana.example.com/d/ledgerflow"

    html = admin_client.get("/admin/").content.decode()

    assert '<a href="https://grafana.example.com/d/ledgerflow"' in html


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["", "javascript:alert(1)"])
def test_admin_dashboard_has_no_grafana_link_unset_or_not_http(admin_client, settings, url):
    settings.GRAFANA_URL = url

    html = admin_client.get("/admin/").content.decode()

    assert 'id="grafana-link"' not in html
    assert "javascript:alert" not in html


# --- gunicorn.conf.py and the image's health check, as real processes -----------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def dockerfile_healthcheck() -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    match = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", dockerfile, re.MULTILINE)
    assert match, dockerfile
    command = json.loads(match.group(1))
    assert command[0] == "python"
    return [sys.executable, *command[1:]]


def wait_for(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our URL
                return response.read()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.slow
def test_gunicorn_conf_sizes_from_the_environment_and_serves_metrics_of_all_workers(tmp_path):
    port, metrics_port = free_port(), free_port()
    multiproc = tmp_path / "prometheus"
    multiproc.mkdir()
    env = {
        **os.environ,
        "PORT": str(port),
        "GUNICORN_HOST": "127.0.0.1",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "2",
        "METRICS_PORT": str(metrics_port),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        # The control socket's default path is shared by every gunicorn on the machine.
        [str(gunicorn), "-c", "gunicorn.conf.py", "--no-control-socket"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        assert json.loads(wait_for(f"http://127.0.0.1:{port}/health", deadline)) == {"status": "ok"}
        # The image's HEALTHCHECK, exactly as written, against this server.
        check = subprocess.run(dockerfile_healthcheck(), env=env, timeout=30, capture_output=True)
        assert check.returncode == 0, check.stderr
        for _ in range(5):
            wait_for(f"http://127.0.0.1:{port}/health", deadline)
        body = wait_for(f"http://127.0.0.1:{metrics_port}/metrics", deadline).decode()
        families = {f.name: f for f in text_string_to_metric_families(body)}
        # Summed over both workers' files in PROMETHEUS_MULTIPROC_DIR.
        assert value(families, "django_http_responses_total_by_status_total", status="200") >= 7
        assert "ledgerflow_build_info" in families
        assert "ledgerflow_state_up" in families
        workers = {p.name for p in multiproc.iterdir() if p.name.startswith("counter_")}
        assert len(workers) >= 2, workers  # WEB_CONCURRENCY=2 processes wrote samples
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert f"Listening at: http://127.0.0.1:{port}" in stderr.decode()
    # Server gone: the same health check now fails.
    check = subprocess.run(dockerfile_healthcheck(), env=env, timeout=30, capture_output=True)
    assert check.returncode != 0
