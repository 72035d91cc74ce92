"""DRF throttling through the cache: per user, per IP, and a tight `auth` scope (DESIGN §4).

conftest.py sets huge rates through the environment; these tests shrink them per test.
"""

import os
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.urls import path
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.test import APIClient
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


def test_api_key_calls_count_against_the_key_owners_user_limit(staff_client, rates):
    raw_key = staff_client.post("/api/v1/api-keys", {"name": "indexer"}, format="json").json()[
        "key"
    ]
    key_client = APIClient()
    key_client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    rates(user="2/min")

    assert key_client.get("/api/v1/auth/me").status_code == 200
    assert staff_client.get("/api/v1/auth/me").status_code == 200

    assert_rate_limited(key_client.get("/api/v1/auth/me"))
    assert_rate_limited(staff_client.get("/api/v1/auth/me"))


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


# --- The limiter itself: atomic, O(1) per check, one Redis round trip -----------------------

REDIS_URL = os.environ.get("REDIS_URL", "")
needs_redis = pytest.mark.skipif(not REDIS_URL, reason="needs Redis (set REDIS_URL)")
LOCMEM = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}


def concurrent_gets(n: int, url: str, **extra) -> Counter:
    """`n` threads send one request each, released together: the throttle sees them race."""
    # django_prometheus creates its metrics on a process's first request, not thread-safely:
    # make that request first, from an address of its own.
    APIClient().get(url, REMOTE_ADDR="192.0.2.1")
    barrier = threading.Barrier(n)

    def one(_):
        client = APIClient()
        barrier.wait()
        return client.get(url, **extra).status_code

    with ThreadPoolExecutor(max_workers=n) as pool:
        return Counter(pool.map(one, range(n)))


@needs_redis
@pytest.mark.urls(__name__)
def test_64_concurrent_requests_against_a_limit_of_50_let_exactly_50_through_on_redis(
    rates, settings
):
    from django.core.cache import cache

    assert "redis" in settings.CACHES["default"]["BACKEND"]
    rates(anon="50/hour")  # no slot comes back while the test runs (one every 72 s)

    statuses = concurrent_gets(64, "/open", REMOTE_ADDR="10.0.0.64")
    cache._cache.get_client(write=True).delete(cache.make_key("gcra_anon_10.0.0.64"))

    assert statuses == {200: 50, 429: 14}


@pytest.mark.urls(__name__)
def test_64_concurrent_requests_against_a_limit_of_50_let_exactly_50_through_in_process(
    rates, settings
):
    settings.CACHES = LOCMEM
    rates(anon="50/hour")

    statuses = concurrent_gets(64, "/open", REMOTE_ADDR="10.0.0.64")

    assert statuses == {200: 50, 429: 14}


@pytest.fixture
def redis_commands(monkeypatch):
    """Count the commands the cache's Redis client sends (they still run, against real Redis)."""
    import redis

    sent: list[str] = []
    execute = redis.Redis.execute_command

    def counting(self, *args, **options):
        sent.append(str(args[0]))
        return execute(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    return sent


@needs_redis
@pytest.mark.urls(__name__)
def test_a_check_is_one_redis_command_and_the_state_is_one_small_number(rates, redis_commands):
    from django.core.cache import cache

    rates(anon="1000/min")
    api_client = APIClient()
    api_client.get("/open", REMOTE_ADDR="10.0.0.7")  # the first call may load the script
    redis_commands.clear()

    for _ in range(300):
        assert api_client.get("/open", REMOTE_ADDR="10.0.0.7").status_code == 200

    # One command per check: two throttles apply to an anonymous caller (anon and user scopes).
    assert len(redis_commands) == 2 * 300, Counter(redis_commands)
    assert set(redis_commands) == {"EVALSHA"}
    key = cache.make_key("gcra_anon_10.0.0.7")
    client = cache._cache.get_client(key, write=True)
    stored = client.get(key)
    assert len(stored) <= 32  # one timestamp, not a list growing with the rate
    assert float(stored) > 0
    assert 0 < client.pttl(key) <= 60_000


@pytest.mark.urls(__name__)
def test_the_in_process_state_is_one_number_per_client(rates, settings):
    from django.core.cache import cache

    settings.CACHES = LOCMEM
    rates(anon="1000/min")
    for _ in range(300):
        assert APIClient().get("/open", REMOTE_ADDR="10.0.0.8").status_code == 200

    assert isinstance(cache.get("gcra_anon_10.0.0.8"), float)


@pytest.mark.urls(__name__)
def test_responses_carry_ratelimit_headers_of_the_tightest_limit(api_client, rates):
    rates(anon="3/min", user="1000/min")

    first = api_client.get("/open", REMOTE_ADDR="10.0.0.9")
    assert (first["RateLimit-Limit"], first["RateLimit-Remaining"]) == ("3", "2")
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    api_client.get("/open", REMOTE_ADDR="10.0.0.9")
    api_client.get("/open", REMOTE_ADDR="10.0.0.9")

    refused = api_client.get("/open", REMOTE_ADDR="10.0.0.9")
    assert_rate_limited(refused)
    assert (refused["RateLimit-Limit"], refused["RateLimit-Remaining"]) == ("3", "0")
    assert int(refused["Retry-After"]) == 20  # the next slot of 3/min, not the whole window


def test_a_refused_request_does_not_use_up_the_next_slot():
    """GCRA on a fake clock: a burst of `limit`, then one request per `period / limit`."""
    from ledgerflow.throttling import gcra

    tat, now = None, 1000.0
    for _ in range(2):
        tat, decision = gcra(tat, now, limit=2, period=60)
        assert decision.allowed
    refused_tat, refused = gcra(tat, now, limit=2, period=60)
    assert not refused.allowed
    assert refused_tat == tat
    assert refused.retry_after == pytest.approx(30)

    assert not gcra(tat, now + 29.9, limit=2, period=60)[1].allowed
    tat, decision = gcra(tat, now + 30, limit=2, period=60)
    assert decision.allowed
    assert decision.remaining == 0
    assert not gcra(tat, now + 30, limit=2, period=60)[1].allowed
    assert gcra(tat, now + 120, limit=2, period=60)[1].remaining == 1  # fully replenished


def test_login_still_works_when_the_cache_is_down(api_client, customer, settings, caplog):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }

    response = login(api_client, customer.email)

    assert response.status_code == 200
    assert "RateLimit-Limit" not in response
    assert "throttle cache unavailable" in caplog.text
