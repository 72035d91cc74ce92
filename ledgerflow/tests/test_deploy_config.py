"""docker-compose and Prometheus run the production shape the settings demand (DEBUG false)."""

import re
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
PROMETHEUS = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
APP_SERVICES = ("migrate", "web", "worker", "beat")


def required(value: str) -> bool:
    """`${NAME:?message}`: compose refuses to start while NAME is unset or empty."""
    return bool(re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", value))


def test_app_services_run_production_settings_with_their_required_variables():
    for name in APP_SERVICES:
        environment = COMPOSE["services"][name]["environment"]
        assert environment["DEBUG"] == "false"
        for variable in ("SECRET_KEY", "VAULT_ADDRESS", "METRICS_TOKEN"):
            assert required(environment[variable]), (name, variable, environment[variable])
        assert environment["DATABASE_URL"].startswith("postgres://")
        assert environment["CELERY_BROKER_URL"].startswith("redis://")


def test_web_counts_the_documented_reverse_proxy():
    """Behind the TLS proxy REMOTE_ADDR is the proxy: NUM_PROXIES=0 would give all one limit."""
    environment = COMPOSE["services"]["web"]["environment"]

    assert environment["NUM_PROXIES"] == "${NUM_PROXIES:-1}"


def test_prometheus_scrapes_web_with_the_same_metrics_token():
    prometheus = COMPOSE["services"]["prometheus"]
    job = next(job for job in PROMETHEUS["scrape_configs"] if job["job_name"] == "ledgerflow")

    assert required(prometheus["environment"]["METRICS_TOKEN"])
    assert job["authorization"]["type"] == "Bearer"
    token_file = job["authorization"]["credentials_file"]
    assert f"> {token_file}" in prometheus["command"][0]  # the entrypoint writes it there
    assert job["static_configs"] == [{"targets": ["web:8000"]}]


def test_env_example_explains_num_proxies_and_the_metrics_token():
    example = (ROOT / ".env.example").read_text()

    assert "# NUM_PROXIES=0" in example
    assert "# METRICS_TOKEN=" in example
    assert "X-Forwarded-For" in example
