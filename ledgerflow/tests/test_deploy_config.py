"""docker-compose, Prometheus, the image and the lock files, read as the tools would read them.

No container engine here: the image is checked by reading its Dockerfile, .dockerignore and the
lock file it installs; compose and Prometheus by parsing their YAML.
"""

import fnmatch
import json
import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
APP_SERVICES = ("migrate", "web", "worker", "beat")
SCALED = ("web", "worker")
# Development tools that must never reach the image (checked beside pyproject's dev extra).
DEV_PACKAGES = {
    "pytest",
    "pytest-django",
    "pytest-xdist",
    "selenium",
    "hypothesis",
    "ruff",
    "honcho",
    "schemathesis",
    "factory-boy",
    "faker",
    "mypy",
    "bandit",
    "pip-audit",
    "uv",
    "django-stubs",
}


def required(value: str) -> bool:
    """`${NAME:?message}`: compose refuses to start while NAME is unset or empty."""
    return bool(re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value))


def default_of(value: str, name: str) -> str:
    """`${NAME:-default}` -> default: .env may override it."""
    match = re.fullmatch(r"\$\{" + name + r":-([^}]+)\}", value)
    assert match, (name, value)
    return match.group(1)


def locked(path: Path) -> dict[str, str]:
    """name -> version of a uv/pip-compile lock; asserts every pin carries a hash."""
    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", path.read_text()):
        match = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        if match:
            assert "--hash=sha256:" in block, f"{path.name}: {match.group(1)} has no hash"
            pins[canonicalize_name(match.group(1))] = match.group(2)
    assert pins, path
    return pins


# --- compose -------------------------------------------------------------------------------


def test_app_services_run_production_settings_with_their_required_variables():
    for name in APP_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        assert environment["DEBUG"] == "false"
        for variable in ("SECRET_KEY", "VAULT_ADDRESS", "METRICS_TOKEN"):
            assert required(environment[variable]), (name, variable, environment[variable])
        # The bundled services by default; .env may point them elsewhere.
        assert default_of(environment["DATABASE_URL"], "DATABASE_URL").startswith(
            "postgres://ledgerflow:ledgerflow@postgres:5432/"
        )
        assert default_of(environment["CELERY_BROKER_URL"], "CELERY_BROKER_URL").startswith(
            "redis://redis:6379/"
        )
        assert default_of(environment["REDIS_URL"], "REDIS_URL").startswith("redis://redis:")


def test_web_counts_the_documented_reverse_proxy():
    """Behind the TLS proxy REMOTE_ADDR is the proxy: NUM_PROXIES=0 would give all one limit."""
    environment = COMPOSE["services"]["web"]["environment"]

    assert environment["NUM_PROXIES"] == "${NUM_PROXIES:-1}"


def test_every_dependency_waits_on_a_condition():
    for name, service in COMPOSE["services"].items():
        depends_on = service.get("depends_on", {})
        assert isinstance(depends_on, dict), f"{name}: depends_on must name conditions"
        for dependency, how in depends_on.items():
            assert dependency in COMPOSE["services"], (name, dependency)
            assert how["condition"] in {
                "service_healthy",
                "service_completed_successfully",
            }, (name, dependency, how)
            if how["condition"] == "service_healthy":
                assert "healthcheck" in COMPOSE["services"][dependency], dependency
    for name in ("web", "worker", "beat"):
        assert set(COMPOSE["services"][name]["depends_on"]) >= {"migrate", "postgres", "redis"}


def test_worker_and_beat_are_healthy_only_while_they_answer_a_ping():
    services = COMPOSE["services"]
    for name, node in (("worker", "celery@$$HOSTNAME"), ("beat", "celerybeat@$$HOSTNAME")):
        test = services[name]["healthcheck"]["test"]
        assert test[0] == "CMD-SHELL", name
        assert f"celery -A ledgerflow inspect ping -d {node}" in test[1], (name, test)
    # Beat answers pings only with remote control on (Celery >= 5.7).
    assert "--enable-remote-control" in services["beat"]["command"]
    assert "beat" in services["beat"]["command"]
    assert "worker" in services["worker"]["command"]
    # The one-shot migration does not inherit the image's web health check.
    assert services["migrate"]["healthcheck"] == {"disable": True}


def test_scaled_services_have_no_fixed_host_port():
    services = COMPOSE["services"]
    assert "ports" not in services["worker"]
    for port in services["web"].get("ports", []):
        host = str(port).rsplit(":", 1)[0]
        # A range (one port per replica) or none; never a single published port.
        assert re.fullmatch(r"127\.0\.0\.1:\d+-\d+", host), port


def test_one_gunicorn_command_line_for_image_compose_and_procfile():
    command = ["gunicorn", "-c", "gunicorn.conf.py"]
    assert COMPOSE["services"]["web"]["command"] == command
    cmd = re.search(r"^CMD (\[.*\])$", DOCKERFILE, re.MULTILINE).group(1)
    assert json.loads(cmd) == command
    [web] = [
        line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:")
    ]
    assert web.endswith("gunicorn -c gunicorn.conf.py"), web
    for flag in ("--bind", "--workers", "--threads", "ledgerflow.wsgi"):
        assert flag not in web, web


# --- Prometheus ----------------------------------------------------------------------------


def test_prometheus_finds_every_web_and_worker_replica_by_dns():
    jobs = {job["job_name"]: job for job in PROMETHEUS["scrape_configs"]}
    port = int(COMPOSE["x-app-env"]["METRICS_PORT"])
    for job, service in (("ledgerflow-web", "web"), ("ledgerflow-worker", "worker")):
        [sd] = jobs[job]["dns_sd_configs"]
        assert sd["names"] == [service]
        assert sd["type"] == "A"
        assert sd["port"] == port
        assert "static_configs" not in jobs[job]
        environment = COMPOSE["services"][service]["environment"]
        assert environment["METRICS_PORT"] == str(port)
        assert environment["PROMETHEUS_MULTIPROC_DIR"] in COMPOSE["services"][service]["tmpfs"]
    # The metrics port stays inside the compose network.
    for service in ("web", "worker"):
        for published in COMPOSE["services"][service].get("ports", []):
            assert not str(published).endswith(f":{port}")


def test_compose_prometheus_loads_the_alert_rules():
    volumes = COMPOSE["services"]["prometheus"]["volumes"]
    assert PROMETHEUS["rule_files"] == ["alerts.yml"]  # relative to prometheus.yml
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in volumes
    assert "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in volumes
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    assert {
        "LedgerVerificationFailing",
        "WebhookDeliveriesFailing",
        "WebhookBacklogGrowing",
        "NoWorkerConsuming",
        "BalanceSnapshotsLate",
        "HighServerErrorRate",
        "HighLatencyP99",
    } <= alerts


def test_env_example_explains_num_proxies_and_the_metrics_token():
    example = (ROOT / ".env.example").read_text()

    assert "# NUM_PROXIES=0" in example
    assert "# METRICS_TOKEN=" in example
    assert "X-Forwarded-For" in example
    assert "# GRAFANA_URL=" in example
    assert "# WEB_CONCURRENCY=" in example


# --- the image -----------------------------------------------------------------------------


def image_requirements() -> Path:
    """The lock file the Dockerfile installs by default (ARG REQUIREMENTS)."""
    default_arg = re.search(r"^ARG REQUIREMENTS=(\S+)$", DOCKERFILE, re.MULTILINE)
    install_run = re.search(r"^RUN pip install (.*)$", DOCKERFILE, re.MULTILINE)
    assert default_arg
    assert install_run
    default, install = default_arg.group(1), install_run.group(1)
    assert "--require-hashes" in install
    assert re.search(r"^COPY \$\{REQUIREMENTS\} /tmp/requirements.txt$", DOCKERFILE, re.M)
    assert "-r /tmp/requirements.txt" in install
    return ROOT / default


def dev_only_names() -> set[str]:
    dev = {
        canonicalize_name(Requirement(line).name)
        for line in PYPROJECT["optional-dependencies"]["dev"]
    }
    return dev | DEV_PACKAGES


def test_the_image_installs_no_development_package():
    path = image_requirements()
    assert path.name == "requirements.txt"
    for lock in (path, ROOT / "requirements-tracing.txt"):
        assert set(locked(lock)) & dev_only_names() == set(), lock.name
    # ...while the dev lock, which make venv installs, has them all.
    assert dev_only_names() - set(locked(ROOT / "requirements-dev.txt")) == set()


def test_the_image_runs_as_a_user_with_debug_off_and_a_health_check():
    assert re.search(r"^ENV DEBUG=false", DOCKERFILE, re.MULTILINE)
    assert re.search(r"^USER ledgerflow$", DOCKERFILE, re.MULTILINE)
    healthcheck = re.search(r"^HEALTHCHECK .*\\\n\s+CMD (\[.*\])$", DOCKERFILE, re.MULTILINE)
    assert "/health" in json.loads(healthcheck.group(1))[-1]


def test_lock_files_pin_pyproject_with_the_same_versions_everywhere():
    """Offline half of `make requirements-check`: every declared requirement is pinned in its
    lock at a version it allows, and a package has one version in all three files."""
    runtime = locked(ROOT / "requirements.txt")
    tracing = locked(ROOT / "requirements-tracing.txt")
    dev = locked(ROOT / "requirements-dev.txt")
    extras = PYPROJECT["optional-dependencies"]
    for lock, declared in (
        (runtime, PYPROJECT["dependencies"]),
        (tracing, PYPROJECT["dependencies"] + extras["tracing"]),
        (dev, PYPROJECT["dependencies"] + extras["tracing"] + extras["dev"]),
    ):
        for line in declared:
            requirement = Requirement(line)
            name = canonicalize_name(requirement.name)
            assert name in lock, name
            assert requirement.specifier.contains(lock[name], prereleases=True), (
                name,
                lock[name],
            )
    for name, version in runtime.items():
        assert tracing[name] == dev[name] == version, name
    for name, version in tracing.items():
        assert dev[name] == version, name


def dockerignore_excludes(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last matching pattern wins; a pattern matching a folder covers its
    contents; `*` stays inside one path segment, `**` crosses them."""

    def matches(pattern: str, candidate: str) -> bool:
        regex = re.escape(pattern).replace(r"\*\*/", "(.*/)?").replace(r"\*\*", ".*")
        regex = regex.replace(r"\*", "[^/]*").replace(r"\?", "[^/]")
        return re.fullmatch(regex, candidate) is not None

    parts = path.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!").strip("/")
        if any(matches(pattern, prefix) for prefix in prefixes):
            excluded = not negate
    return excluded


def build_context() -> list[str]:
    files = []
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in {".git", ".venv", "var", "node_modules"}]
        for name in names:
            files.append(os.path.relpath(os.path.join(folder, name), ROOT))
    return files


def test_dockerignore_keeps_tests_bench_and_docs_out_of_the_image():
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copied = [path for path in build_context() if not dockerignore_excludes(path, patterns)]
    for path in copied:
        parts = path.split("/")
        assert "tests" not in parts, path
        assert not parts[0].startswith("tests"), path
        assert parts[0] not in {"bench", "docs", "deploy", ".ci", "clients"}, path
        assert not fnmatch.fnmatch(parts[-1], "test_*.py"), path
        assert parts[-1] not in {"conftest.py", "requirements-dev.txt", ".env"}, path
    for needed in (
        "manage.py",
        "gunicorn.conf.py",
        "pyproject.toml",
        "requirements.txt",
        "requirements-tracing.txt",
        "ledgerflow/settings.py",
        "ledgerflow/wsgi.py",
        "templates/admin/index.html",
    ):
        assert needed in copied, needed


@pytest.mark.parametrize(
    ("path", "excluded"),
    [
        ("ledger/tests/test_x.py", True),
        ("tests/faults/test_y.py", True),
        ("README.md", True),
        ("ledger/README.md", False),  # `*.md` is the top level only
        ("ledger/models.py", False),
        ("docs/SCALING.md", True),
    ],
)
def test_the_dockerignore_reading_follows_dockers_rules(path, excluded):
    assert dockerignore_excludes(path, ["**/tests", "tests", "docs", "*.md"]) is excluded
