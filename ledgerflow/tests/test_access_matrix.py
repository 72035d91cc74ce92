# ruff: noqa: E501  (the matrix reads best one case a line)
"""Every operator endpoint × every role: `is_staff` alone grants nothing (issue 11, item 2).

Each case names the right it needs and makes the request against someone else's objects. The
roles: a customer, staff holding no permission, staff holding every right but this one, staff
holding exactly this right, and an API key of that staff member (keys act with their user's
rights). Denied callers get 403 where the endpoint itself is an operator's (`permission_denied`)
and 404 where the object is simply out of their reach; nothing changes either way.

A last test walks the URL conf: every /api/ route is either in this matrix or in the list of
self-service routes, so a new endpoint cannot ship without deciding who may call it.
"""

from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from accounts.models import Asset
from accounts.permissions import (
    DEPOSIT,
    MANAGE_ORDERS,
    POST_JOURNAL,
    REVERSE,
    REVIEW_HOLD,
    TRANSFER_ANY,
    VIEW_ACCOUNTS,
    VIEW_ORDERS,
    VIEW_TRANSACTIONS,
    WITHDRAW_ANY,
)
from accounts.services import create_api_key
from accounts.tests.factories import OPERATOR_RIGHTS, UserFactory
from conftest import client_for
from ledger.models import Entry, RiskRule, Transaction
from ledger.services import TransferItem, post_batch
from orders.models import Order
from orders.services import create_order
from webhooks.selectors import VIEW_EVENTS

pytestmark = pytest.mark.django_db


@dataclass
class World:
    """A customer's funded account, a second customer's account, and their open objects."""

    account: object
    other: object
    hold: Transaction
    review: Transaction
    posted: Transaction
    order: Order


@pytest.fixture
def world(customer, other_customer, funded):
    account, other = funded(customer, "1000.00"), funded(other_customer, "0")
    hold = post_batch(
        actor=customer,
        items=[TransferItem(account.pk, other.pk, Decimal("5.00"), pending=True)],
    )[0]
    RiskRule.objects.create(
        name="review big",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action="review",
        limit=50000,
        asset=Asset.objects.get(code="USD"),
    )
    review = post_batch(actor=customer, items=[TransferItem(account.pk, other.pk, Decimal("600"))])[
        0
    ]
    RiskRule.objects.all().delete()
    assert review.hold_reason == "review"
    posted = post_batch(actor=customer, items=[TransferItem(account.pk, other.pk, Decimal("1"))])[0]
    order = create_order(actor=customer, account_id=account.pk, amount=Decimal("3.00"))
    return World(account, other, hold, review, posted, order)


@dataclass(frozen=True)
class Case:
    name: str
    right: str
    method: str
    path: str  # formatted with the world
    body: dict | None
    ok: int
    denied_staff: int  # for staff without the right (the endpoint is theirs, the object isn't)
    denied_customer: int


def _transfer(w):
    return {"from_account": w.account.public_id, "to_account": w.other.public_id, "amount": "1"}


CASES = [
    Case("deposit", DEPOSIT, "post", "/api/v1/deposits", {"account": "{a}", "amount": "1"}, 201, 403, 403),
    Case("withdraw any", WITHDRAW_ANY, "post", "/api/v1/withdrawals", {"account": "{a}", "amount": "1"}, 201, 404, 404),
    Case("transfer any", TRANSFER_ANY, "post", "/api/v1/transfers", "transfer", 201, 404, 404),
    Case("batch any", TRANSFER_ANY, "post", "/api/v1/transfers/batch", "batch", 201, 404, 404),
    Case("journal", POST_JOURNAL, "post", "/api/v1/transactions", "journal", 201, 403, 403),
    Case("reverse", REVERSE, "post", "/api/v1/transactions/{posted}/reverse", {}, 200, 403, 403),
    Case("post any hold", TRANSFER_ANY, "post", "/api/v1/transactions/{hold}/post", {}, 200, 404, 404),
    Case("void any hold", TRANSFER_ANY, "post", "/api/v1/transactions/{hold}/void", {}, 200, 404, 404),
    Case("approve review", REVIEW_HOLD, "post", "/api/v1/transactions/{review}/post", {}, 200, 404, 404),
    Case("decline review", REVIEW_HOLD, "post", "/api/v1/transactions/{review}/void", {}, 200, 404, 404),
    Case("order for any account", MANAGE_ORDERS, "post", "/api/v1/orders", {"account": "{a}", "amount": "1"}, 201, 404, 404),
    Case("complete order", MANAGE_ORDERS, "post", "/api/v1/orders/{order}/complete", {"tx_hash": "0x" + "ab" * 32}, 200, 403, 403),
    Case("fail order", MANAGE_ORDERS, "post", "/api/v1/orders/{order}/fail", {}, 200, 403, 403),
    Case("cancel any order", MANAGE_ORDERS, "post", "/api/v1/orders/{order}/cancel", {}, 200, 404, 404),
    Case("order queue", VIEW_ORDERS, "get", "/api/v1/admin/orders", None, 200, 403, 403),
    Case("read any order", VIEW_ORDERS, "get", "/api/v1/orders/{order}", None, 200, 404, 404),
    Case("read any account", VIEW_ACCOUNTS, "get", "/api/v1/accounts/{a}", None, 200, 404, 404),
    Case("any balance", VIEW_ACCOUNTS, "get", "/api/v1/accounts/{a}/balance", None, 200, 404, 404),
    Case("any statement", VIEW_ACCOUNTS, "get", "/api/v1/accounts/{a}/entries", None, 200, 404, 404),
    Case("any summary", VIEW_ACCOUNTS, "get", "/api/v1/accounts/{a}/summary", None, 200, 404, 404),
    Case("any snapshots", VIEW_ACCOUNTS, "get", "/api/v1/accounts/{a}/snapshots", None, 200, 404, 404),
    Case("read any transaction", VIEW_TRANSACTIONS, "get", "/api/v1/transactions/{posted}", None, 200, 404, 404),
]  # fmt: skip


def _body(case: Case, w: World):
    if case.body == "transfer":
        return _transfer(w)
    if case.body == "batch":
        return {"transfers": [_transfer(w)]}
    if case.body == "journal":
        return {
            "entries": [
                {"account": w.account.public_id, "amount": "-1"},
                {"account": w.other.public_id, "amount": "1"},
            ]
        }
    if case.body is None:
        return None
    return {k: v.format(a=w.account.public_id) for k, v in case.body.items()}


def _path(case: Case, w: World) -> str:
    return case.path.format(
        a=w.account.public_id,
        hold=w.hold.public_id,
        review=w.review.public_id,
        posted=w.posted.public_id,
        order=w.order.order_id,
    )


def _call(client: APIClient, case: Case, w: World):
    path, body = _path(case, w), _body(case, w)
    if case.method == "get":
        return client.get(path)
    return client.post(path, body, format="json")


def _books(w: World):
    """What a refused request must not change."""
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        list(Transaction.objects.order_by("pk").values_list("status", flat=True)),
        list(Order.objects.order_by("pk").values_list("status", flat=True)),
    )


def _key_client(user) -> APIClient:
    _, raw = create_api_key(actor=user, name="server")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_customer_is_refused(case, world):
    stranger = client_for(UserFactory())  # owns nothing of the world's
    before = _books(world)
    response = _call(stranger, case, world)
    assert response.status_code == case.denied_customer, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert _books(world) == before


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_staff_without_the_right_is_refused(case, world, bare_staff):
    # Staff holding every other right may see the object (a view right): then 403, not 404.
    rest = UserFactory(is_staff=True, rights=[r for r in OPERATOR_RIGHTS if r != case.right])
    for user, allowed in ((bare_staff, {case.denied_staff}), (rest, {case.denied_staff, 403})):
        before = _books(world)
        for client in (client_for(user), _key_client(user)):
            response = _call(client, case, world)
            assert response.status_code in allowed, (user, response.content)
            assert response["Content-Type"] == "application/problem+json"
            if response.status_code == 403:
                assert response.json()["code"] == "permission_denied"
        assert _books(world) == before


@pytest.mark.parametrize("via_key", [False, True], ids=["jwt", "api_key"])
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_staff_with_exactly_the_right_may(case, via_key, world):
    user = UserFactory(is_staff=True, rights=[case.right])
    client = _key_client(user) if via_key else client_for(user)
    response = _call(client, case, world)
    assert response.status_code == case.ok, response.content


def test_a_right_does_nothing_without_staff(world, other_customer):
    """Permissions granted to a customer (not staff) by mistake are not operator rights."""
    user = UserFactory(rights=OPERATOR_RIGHTS)
    before = _books(world)
    response = client_for(user).post(
        "/api/v1/deposits", {"account": world.account.public_id, "amount": "1"}, format="json"
    )
    assert response.status_code == 403
    assert _books(world) == before


def test_events_of_others_need_the_view_right(world, customer, bare_staff):
    granted = UserFactory(is_staff=True, rights=[VIEW_EVENTS])
    assert client_for(bare_staff).get("/api/v1/events").json()["results"] == []
    seen = client_for(granted).get("/api/v1/events").json()["results"]
    assert {e["data"].get("id") for e in seen} >= {world.posted.public_id}


def test_inactive_staff_key_holder_has_no_rights(world):
    user = UserFactory(is_staff=True, rights=OPERATOR_RIGHTS)
    client = client_for(user)
    user.is_active = False
    user.save()
    response = client.post(
        "/api/v1/deposits", {"account": world.account.public_id, "amount": "1"}, format="json"
    )
    assert response.status_code == 401


# Routes anyone signed in may call on their own objects (or anyone at all), with no operator
# right: they scope by owner (someone else's object is 404, tested in each app).
SELF_SERVICE = {
    "/api/v1/auth/register",
    "/api/v1/auth/token",
    "/api/v1/auth/token/refresh",
    "/api/v1/auth/me",
    "/api/v1/accounts",
    "/api/v1/api-keys",  # staff only, own keys (accounts/tests/test_api_keys.py)
    "/api/v1/api-keys/<int:key_id>",
    "/api/v1/webhook-endpoints",
    "/api/v1/webhook-endpoints/<str:endpoint_id>",
    "/api/v1/webhook-endpoints/<str:endpoint_id>/rotate-secret",
    "/api/v1/webhook-endpoints/<str:endpoint_id>/deliveries",
    "/api/v1/webhook-endpoints/<str:endpoint_id>/deliveries/<str:delivery_id>/retry",
    "/api/v1/events",  # own events; all with VIEW_EVENTS (test above)
    "/api/v1/exports",
    "/api/v1/exports/<str:export_id>",
    "/api/v1/exports/<str:export_id>/download",
    "/api/v1/transactions",  # GET: own; POST: journal (matrix)
}


def _routes(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield "/" + route.lstrip("^").rstrip("$")


def test_every_api_route_is_classified():
    in_matrix = {c.path for c in CASES}
    generic = {
        p.replace("{a}", "<str:account_id>")
        .replace("{hold}", "<str:transaction_id>")
        .replace("{review}", "<str:transaction_id>")
        .replace("{posted}", "<str:transaction_id>")
        .replace("{order}", "<str:order_id>")
        for p in in_matrix
    }
    api_routes = {r for r in _routes() if r.startswith("/api/v1/") and "<path:" not in r}
    unclassified = api_routes - generic - SELF_SERVICE
    assert not unclassified, f"decide who may call: {sorted(unclassified)}"
    assert generic <= api_routes, f"matrix names routes that do not exist: {generic - api_routes}"
