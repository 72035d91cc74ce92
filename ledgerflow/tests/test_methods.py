"""Every answer under /api/ is problem+json: wrong methods are 405 with Allow, unknown paths 404.

The walk covers every DRF view under /api/ in the URL conf (the v1 API and the schema and docs
views), so an endpoint added later is checked without touching this file.
"""

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from accounts.models import Account
from conftest import client_for
from ledger.models import IdempotencyKey, Transaction

pytestmark = pytest.mark.django_db

# Django's list plus one no server knows.
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "BREW"]
_CONVERTER = re.compile(r"<(?:(?P<kind>\w+):)?\w+>")


def api_routes() -> list[tuple[str, type[APIView]]]:
    """(concrete path, view class) of every DRF view under /api/; path arguments made up."""

    def walk(patterns, prefix: str):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                view_class = getattr(pattern.callback, "cls", None)
                if view_class and issubclass(view_class, APIView):
                    yield route, view_class

    def concrete(route: str) -> str:
        return "/" + _CONVERTER.sub(lambda m: "7" if m["kind"] == "int" else "x_missing", route)

    return [
        (concrete(route), cls)
        for route, cls in walk(get_resolver().url_patterns, "")
        if route.startswith("api/")
    ]


def allowed(cls: type[APIView]) -> set[str]:
    # Django answers HEAD with GET when a view has no `head` of its own.
    methods = {m.upper() for m in cls.http_method_names if hasattr(cls, m)}
    return methods | ({"HEAD"} if "GET" in methods else set())


def unsupported() -> list[tuple[str, str]]:
    return [
        (method, path)
        for path, cls in api_routes()
        for method in METHODS
        if method not in allowed(cls)
    ]


def test_the_walk_finds_read_only_and_write_only_endpoints():
    paths = {path for path, _ in api_routes()}

    assert {
        "/api/v1/auth/me",
        "/api/v1/events",
        "/api/v1/admin/orders",
        "/api/v1/accounts/x_missing/balance",
        "/api/v1/transactions/x_missing",
        "/api/v1/transfers",
        "/api/schema/",
    } <= paths
    assert ("POST", "/api/v1/auth/me") in unsupported()
    assert ("GET", "/api/v1/transfers") in unsupported()


@pytest.fixture
def superuser_client(user_factory) -> APIClient:
    # The most privileged caller: nothing but the method itself can refuse the request.
    return client_for(user_factory(is_staff=True, is_superuser=True))


def test_every_unsupported_method_is_405_problem_json_with_allow(superuser_client):
    accounts, transactions = Account.objects.count(), Transaction.objects.count()
    offenders = []

    for method, path in unsupported():
        response = superuser_client.generic(
            method,
            path,
            '{"amount": "1.00"}',
            content_type="application/json",
            HTTP_IDEMPOTENCY_KEY=f"{method}-{path}",
        )
        offered = {m.strip() for m in response.get("Allow", "").split(",")}
        if (
            response.status_code != 405
            or response["Content-Type"] != "application/problem+json"
            # a HEAD answer has no body
            or (method != "HEAD" and response.json()["code"] != "method_not_allowed")
            or method in offered
            or not offered & {"GET", "POST", "PATCH", "DELETE"}
        ):
            offenders.append(f"{method} {path}: {response.status_code} {response.content[:80]!r}")

    assert offenders == []
    assert (Account.objects.count(), Transaction.objects.count()) == (accounts, transactions)
    assert not IdempotencyKey.objects.exists()


@pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/events", "/api/v1/admin/orders"])
def test_a_wrong_method_is_405_even_before_authentication(api_client, path):
    response = api_client.post(path, {}, format="json")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert "GET" in response["Allow"]


def test_a_post_with_an_idempotency_key_still_replays(customer_client, customer):
    def open_account():
        return customer_client.post(
            "/api/v1/accounts", {"asset": "USD"}, format="json", HTTP_IDEMPOTENCY_KEY="m-1"
        )

    first, second = open_account(), open_account()

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert Account.objects.filter(owner=customer).count() == 1


# --- unknown paths: 404 problem+json, whatever the method and even with CSRF enforced -----------


@pytest.fixture
def browser_like_client(customer) -> APIClient:
    """Enforces CSRF as a real server does (the test client skips it by default)."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(customer)  # a session cookie, as a browser on the admin would have
    return client


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path", ["/api/v1/transfers/", "/api/v1/no-such-thing", "/api/v2/transfers", "/api/"]
)
def test_an_unknown_api_path_is_404_problem_json(browser_like_client, method, path):
    transactions = Transaction.objects.count()

    response = browser_like_client.generic(
        method, path, '{"amount": "1.00"}', content_type="application/json"
    )

    assert response.status_code == 404, response.content[:300]
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"
    assert Transaction.objects.count() == transactions


def test_an_unknown_api_path_is_404_for_anonymous_callers_too():
    response = APIClient(enforce_csrf_checks=True).post(
        "/api/v1/transfers/", {"amount": "1.00"}, format="json"
    )

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
