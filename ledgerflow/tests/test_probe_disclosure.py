"""Unauthenticated probes reveal nothing about the infrastructure behind them.

/ready names which dependency is down and nothing more (the exception goes to the log), and
/metrics is never open to anyone in production (DEBUG false): it needs METRICS_TOKEN.
"""

import logging

import pytest
from django.db import connection
from django.db.utils import load_backend
from django.test import override_settings

from ledgerflow import health
from ledgerflow.celery import app as celery_app

pytestmark = pytest.mark.django_db

# Port 1 on loopback refuses connections: a real failure whose text names host and port.
CLOSED_REDIS = "redis://127.0.0.1:1/0"
SECRET_USER = "ledger_owner_x7"


@pytest.fixture
def unreachable_database(monkeypatch):
    """A real connection to a database that is not there, with a recognisable user and host."""
    settings_dict = {
        **connection.settings_dict,
        "HOST": "127.0.0.1",
        "PORT": "1",
        "USER": SECRET_USER,
    }
    if connection.vendor == "sqlite":
        settings_dict["NAME"] = f"/nonexistent-{SECRET_USER}/ledger.sqlite3"
    broken = load_backend(settings_dict["ENGINE"]).DatabaseWrapper(settings_dict, alias="broken")
    monkeypatch.setattr(health, "connection", broken)
    yield
    broken.close()


def assert_tells_only_what_is_down(response, down: set[str]) -> dict:
    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert set(body["down"]) == down
    assert set(body["down"].values()) == {"unreachable"}
    assert body["detail"] == f"Unreachable: {', '.join(sorted(down))}."
    for leak in ("127.0.0.1", SECRET_USER, "Error", "refused", "nonexistent"):
        assert leak not in response.content.decode(), leak
    return body


def test_ready_does_not_reveal_the_database_host_or_user(api_client, unreachable_database, caplog):
    with caplog.at_level(logging.WARNING, logger="ledgerflow.health"):
        response = api_client.get("/ready")

    assert_tells_only_what_is_down(response, {"database"})
    logged = [r for r in caplog.records if r.name == "ledgerflow.health"]
    assert len(logged) == 1
    assert logged[0].exc_info is not None  # the operator still gets the whole story
    assert "database" in logged[0].getMessage()


def test_ready_does_not_reveal_the_cache_or_broker_address(api_client, monkeypatch, caplog):
    monkeypatch.setenv("CELERY_BROKER_URL", CLOSED_REDIS)
    monkeypatch.setitem(celery_app.conf, "broker_url", CLOSED_REDIS)
    cache = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }

    with override_settings(CACHES=cache), caplog.at_level(logging.WARNING, "ledgerflow.health"):
        response = api_client.get("/ready")

    assert_tells_only_what_is_down(response, {"cache", "broker"})
    logged = {r.getMessage() for r in caplog.records if r.name == "ledgerflow.health"}
    assert len(logged) == 2
    assert all(record.exc_info for record in caplog.records if record.name == "ledgerflow.health")


def test_metrics_without_a_token_is_refused_when_debug_is_off(api_client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = ""

    response = api_client.get("/metrics")

    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "permission_denied"
    assert "METRICS_TOKEN" in response.json()["detail"]
    assert b"ledgerflow_" not in response.content


def test_metrics_with_a_token_answers_the_scraper_when_debug_is_off(api_client, settings):
    settings.DEBUG = False
    settings.METRICS_TOKEN = "scrape-token-for-prometheus"

    anonymous = api_client.get("/metrics")
    scraper = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-token-for-prometheus")

    assert anonymous.status_code == 401
    assert b"ledgerflow_" not in anonymous.content
    assert scraper.status_code == 200
    assert b"ledgerflow_transfers" in scraper.content


def test_metrics_stays_open_for_development_when_debug_is_on(api_client, settings):
    settings.DEBUG = True
    settings.METRICS_TOKEN = ""

    response = api_client.get("/metrics")

    assert response.status_code == 200
    assert b"ledgerflow_transfers" in response.content
