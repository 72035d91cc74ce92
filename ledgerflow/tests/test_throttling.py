"""DRF throttling through the cache: per user, per IP, and a tight `auth` scope (DESIGN §4).

conftest.py sets huge rates through the environment; these tests shrink them per test.
"""

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle, ScopedRateThrottle, UserRateThrottle

from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD
from ledgerflow.api import ApiView

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"


@pytest.fixture
def rates(monkeypatch):
    """Set throttle rates for this test only ("2/min" style), for every throttle class."""

    def set_rates(**new: str) -> None:
        current = dict(ScopedRateThrottle.THROTTLE_RATES)
        current.update(new)
        for throttle in (ScopedRateThrottle, AnonRateThrottle, UserRateThrottle):
            monkeypatch.setattr(throttle, "THROTTLE_RATES", current)

    return set_rates


def assert_rate_limited(response) -> None:
    assert response.status_code == 429, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "rate_limited"
    assert 0 < int(response["Retry-After"]) <= 60


def login(client, email: str, password: str = TEST_PASSWORD, **extra):
    return client.post(TOKEN, {"email": email, "password": password}, format="json", **extra)


def test_the_third_login_in_a_minute_is_rate_limited(api_client, customer, rates):
    rates(auth="2/min")

    assert login(api_client, customer.email).status_code == 200
    assert login(api_client, customer.email).status_code == 200
    assert_rate_limited(login(api_client, customer.email))


def test_a_throttled_login_does_not_count_as_a_failure(api_client, customer, rates):
    rates(auth="2/min")
    login(api_client, customer.email, "wrong")
    login(api_client, customer.email, "wrong")

    assert_rate_limited(login(api_client, customer.email, "wrong"))

    assert User.objects.get(pk=customer.pk).failed_login_count == 2


def test_registration_shares_the_auth_scope(api_client, rates):
    rates(auth="2/min")
    for n in range(2):
        api_client.post("/api/v1/auth/register", {"email": f"u{n}@x.io"}, format="json")

    response = api_client.post(
        "/api/v1/auth/register",
        {"email": "late@example.com", "password": "correct horse battery"},
        format="json",
    )

    assert_rate_limited(response)
    assert not User.objects.filter(email="late@example.com").exists()


def test_the_auth_limit_is_per_client_address(api_client, customer, rates):
    rates(auth="2/min")
    for _ in range(2):
        login(api_client, customer.email, REMOTE_ADDR="10.0.0.1")

    assert_rate_limited(login(api_client, customer.email, REMOTE_ADDR="10.0.0.1"))
    assert login(api_client, customer.email, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_a_forged_x_forwarded_for_does_not_dodge_the_limit(api_client, customer, rates):
    rates(auth="2/min")
    for n in range(2):
        login(api_client, customer.email, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")

    assert_rate_limited(login(api_client, customer.email, HTTP_X_FORWARDED_FOR="203.0.113.99"))


def test_the_user_limit_is_per_user(customer_client, other_client, rates):
    rates(user="2/min")
    for _ in range(2):
        assert customer_client.get("/api/v1/auth/me").status_code == 200

    assert_rate_limited(customer_client.get("/api/v1/auth/me"))
    assert other_client.get("/api/v1/auth/me").status_code == 200


def test_a_rate_limited_post_changes_nothing(customer_client, customer, rates):
    rates(user="2/min")
    for _ in range(2):
        customer_client.get("/api/v1/accounts")

    response = customer_client.post("/api/v1/accounts", {"asset": "USD"}, format="json")

    assert_rate_limited(response)
    assert not customer.accounts.exists()


class OpenApi(ApiView):
    """A public endpoint with the default throttles (the real public ones use the auth scope)."""

    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [path("open", OpenApi.as_view())]


@pytest.mark.urls(__name__)
def test_the_anon_limit_applies_to_anonymous_callers_by_address(api_client, rates):
    rates(anon="2/min")

    for _ in range(2):
        assert api_client.get("/open", REMOTE_ADDR="10.0.0.5").status_code == 200

    assert_rate_limited(api_client.get("/open", REMOTE_ADDR="10.0.0.5"))
    assert api_client.get("/open", REMOTE_ADDR="10.0.0.6").status_code == 200


@pytest.mark.django_db
def test_throttling_fails_open_when_the_cache_is_down(customer_client, settings, caplog):
    """Redis is a cache: losing it must not turn API calls into 500s."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = customer_client.get("/api/v1/accounts")
    assert response.status_code == 200
    assert "throttle cache unavailable" in caplog.text


def test_unknown_api_path_is_problem_json_even_with_debug(client, settings):
    settings.DEBUG = True
    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
