"""/health, /ready and /metrics: unauthenticated probes that answer fast even when Redis is gone."""

import socket
import time

import pytest
from django.test import override_settings

from ledgerflow.celery import app as celery_app

pytestmark = pytest.mark.django_db

CLOSED_PORT_REDIS = "redis://127.0.0.1:1/0"


def redis_cache_at(url: str) -> dict:
    return {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": url,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }


@pytest.fixture
def broker_at(monkeypatch):
    """Point the Celery app at another broker (its env variable wins over the config)."""

    def point(url: str) -> None:
        monkeypatch.setenv("CELERY_BROKER_URL", url)
        monkeypatch.setitem(celery_app.conf, "broker_url", url)

    return point


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers: the worst case for a probe."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    yield f"redis://127.0.0.1:{server.getsockname()[1]}/0"
    server.close()


def timed_get(client, path: str):
    started = time.monotonic()
    response = client.get(path)
    return response, time.monotonic() - started


def test_health_is_200_without_auth(api_client):
    response = api_client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_when_everything_is_reachable(api_client):
    response = api_client.get("/ready")

    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "ok"}


def test_ready_is_503_naming_the_cache_when_redis_is_down(api_client):
    with override_settings(CACHES=redis_cache_at(CLOSED_PORT_REDIS)):
        response, took = timed_get(api_client, "/ready")

    assert response.status_code == 503
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert set(body["down"]) == {"cache"}
    assert "cache" in body["detail"]
    assert body["request_id"] == response["X-Request-ID"]
    assert took < 5


def test_ready_is_503_naming_the_broker_when_it_is_down(api_client, broker_at):
    broker_at(CLOSED_PORT_REDIS)

    response, took = timed_get(api_client, "/ready")

    assert response.status_code == 503
    assert set(response.json()["down"]) == {"broker"}
    assert took < 5


def test_ready_does_not_hang_on_a_redis_that_never_answers(api_client, broker_at, silent_server):
    broker_at(silent_server)

    with override_settings(CACHES=redis_cache_at(silent_server)):
        response, took = timed_get(api_client, "/ready")

    assert response.status_code == 503
    assert set(response.json()["down"]) == {"cache", "broker"}
    assert took < 8


def test_redis_cache_settings_bound_every_socket_operation(settings):
    from ledgerflow import settings as project_settings

    if not project_settings.REDIS_URL:
        pytest.skip("the Redis cache is configured only when REDIS_URL is set")
    options = settings.CACHES["default"]["OPTIONS"]
    assert options["socket_connect_timeout"] > 0
    assert options["socket_timeout"] > 0


def test_metrics_is_prometheus_text_without_a_token(api_client, settings):
    settings.DEBUG = True  # development only: with DEBUG false a token is required
    settings.METRICS_TOKEN = ""

    response = api_client.get("/metrics")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert b"ledgerflow_transfers" in response.content


def test_metrics_needs_the_bearer_token_when_one_is_set(api_client, settings):
    settings.METRICS_TOKEN = "s3cret-scrape-token"

    missing = api_client.get("/metrics")
    wrong = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    right = api_client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-scrape-token")

    for response, code in ((missing, "not_authenticated"), (wrong, "authentication_failed")):
        assert response.status_code == 401
        assert response["Content-Type"] == "application/problem+json"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert response.json()["code"] == code
    assert right.status_code == 200
