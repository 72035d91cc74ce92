# ruff: noqa: E501  (the matrix reads best one case a line)
"""Every operator endpoint × every role: `is_staff` alone grants nothing (issue 11, item 2).

Each case names the right it needs and makes the request against someone else's objects. The
roles: a customer, staff holding no permission, staff holding every right but this one, staff
holding exactly this right, and an API key of that staff member (keys act with their user's
rights). Denied callers get 403 where the endpoint itself is an operator's (`permission_denied`)
and 404 where the object is simply out of their reach; nothing changes either way.

The second half is the role matrix (issue 12, item 4): every endpoint of the URL conf × every
kind of caller — anonymous, two customers, an operator, read-only staff, API keys (a customer's,
an operator's, a revoked one) and an expired JWT — with the status each must get and, on every
refusal, problem+json and nothing changed. A last test walks the URL conf: every /api/ route and
method has a row, so a new endpoint cannot ship without deciding who may call it.
"""

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.authentication import hash_key, token_pair_for
from accounts.models import Account, ApiKey, Asset, User
from accounts.permissions import (
    DEPOSIT,
    MANAGE_ORDERS,
    POST_JOURNAL,
    RECORD_DEPOSIT,
    REVERSE,
    REVIEW_HOLD,
    TRANSFER_ANY,
    VIEW_ACCOUNTS,
    VIEW_ORDERS,
    VIEW_TRANSACTIONS,
    WITHDRAW_ANY,
)
from accounts.services import create_api_key, revoke_api_key
from accounts.tests.factories import OPERATOR_RIGHTS, TEST_PASSWORD, UserFactory
from conftest import client_for
from ledger.models import Entry, RiskRule, Transaction
from ledger.services import TransferItem, post_batch
from orders.models import Order
from orders.services import create_order
from reporting.models import Export
from reporting.services import build_export, request_export
from webhooks.models import Delivery, WebhookEndpoint
from webhooks.selectors import VIEW_EVENTS
from webhooks.services import create_endpoint

pytestmark = pytest.mark.django_db


@dataclass
class World:
    """A customer's funded account, a second customer's account, and their open objects."""

    account: Account
    other: Account
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
    body: dict | str | None  # a body, or the name of one _body builds
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
    Case("indexer deposit", RECORD_DEPOSIT, "post", "/api/v1/orders/deposits", "order_deposit", 200, 403, 403),
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
    if case.body == "order_deposit":
        return {"order_id": w.order.order_id, "tx_hash": "0x" + "ef" * 32, "amount": "3.00",
                "confirmations": 12}  # fmt: skip
    if case.body == "journal":
        return {
            "entries": [
                {"account": w.account.public_id, "amount": "-1"},
                {"account": w.other.public_id, "amount": "1"},
            ]
        }
    if case.body is None:
        return None
    assert isinstance(case.body, dict), f"no body named {case.body!r}"
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


# --- the role matrix: every endpoint × every kind of caller ------------------------------------
#
# One row per (method, route) of the URL conf, the route spelled exactly as there. The columns:
#   a    customer A, who owns every object the path and body name
#   b    customer B, who owns none of them: always 404 on A's objects, never 403
#   op   an operator (staff holding OPERATOR_RIGHTS); its API key must answer the same
#   aud  read-only staff (the four view rights): reads everything, and on every write against
#        what it can see answers 403 (the endpoints a user calls on its own objects — open an
#        account, register a webhook endpoint, create an API key, request an export — are its
#        own writes, as for anyone; someone else's webhook endpoint or export is out of sight)
# Anonymous callers, customer A's API key (keys act only for staff), a revoked key and an
# expired JWT get 401, except on `public` rows: "any" ignores credentials (login and
# registration), "open" needs none but refuses bad ones (schema and docs).
#
# A route added to the URL conf fails test_every_api_route_is_in_the_role_matrix until it has
# a row here. Path arguments come from ARGS (by name) unless the row names others in `args`;
# bodies from BODIES by the row's `body` key.


@dataclass
class Objects:
    """Customer A's objects, a customer B, an operator and an auditor, and their clients."""

    a: User
    b: User
    operator: User
    auditor: User
    account: Account  # A's, funded
    account2: Account  # A's second account
    b_account: Account  # B's
    hold: Transaction  # pending A -> A2
    posted: Transaction  # posted A -> A2
    order: Order
    endpoint: object
    delivery: object  # failed, so it may be retried
    export: object  # completed
    spare_key: object  # an operator key that DELETE /api-keys/{id} may revoke
    clients: dict


@dataclass(frozen=True)
class Row:
    method: str
    route: str
    a: int
    b: int
    op: int
    aud: int
    body: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    public: str = ""  # "", "any" or "open" (see above)

    def expected(self, role: str) -> int:
        if role in ("anon", "key_a", "revoked_key", "expired_jwt"):
            if self.public == "any" or (self.public == "open" and role == "anon"):
                return self.a
            return 401
        return {"a": self.a, "b": self.b, "op": self.op, "key_op": self.op, "aud": self.aud}[role]


ROLES = ["anon", "a", "b", "op", "aud", "key_a", "key_op", "revoked_key", "expired_jwt"]
V1 = "/api/v1"
ACC = f"{V1}/accounts/<str:account_id>"
TXN = f"{V1}/transactions/<str:transaction_id>"
ORD = f"{V1}/orders/<str:order_id>"
HOOK = f"{V1}/webhook-endpoints/<str:endpoint_id>"
EXP = f"{V1}/exports/<str:export_id>"
HOLD = (("transaction_id", "hold"),)
USR = f"{V1}/users/<int:user_id>"

MATRIX = [
    #   method    route                                        a    b    op   aud
    Row("post",   f"{V1}/auth/register",                       201, 201, 201, 201, "register", public="any"),
    Row("post",   f"{V1}/auth/token",                          200, 200, 200, 200, "login", public="any"),
    Row("post",   f"{V1}/auth/token/refresh",                  200, 200, 200, 200, "refresh", public="any"),
    Row("get",    f"{V1}/auth/me",                             200, 200, 200, 200),
    Row("get",    f"{V1}/api-keys",                            403, 403, 200, 200),
    Row("post",   f"{V1}/api-keys",                            403, 403, 201, 201, "api_key"),
    Row("delete", f"{V1}/api-keys/<int:key_id>",               403, 403, 204, 404),
    Row("get",    f"{V1}/accounts",                            200, 200, 200, 200),
    Row("post",   f"{V1}/accounts",                            201, 201, 201, 201, "open_account"),
    Row("get",    ACC,                                         200, 404, 200, 200),
    Row("get",    f"{ACC}/balance",                            200, 404, 200, 200),
    Row("get",    f"{ACC}/entries",                            200, 404, 200, 200),
    Row("get",    f"{ACC}/snapshots",                          200, 404, 200, 200),
    Row("get",    f"{ACC}/summary",                            200, 404, 200, 200),
    Row("post",   f"{V1}/transfers",                           201, 404, 201, 403, "transfer"),
    Row("post",   f"{V1}/transfers/batch",                     201, 404, 201, 403, "batch"),
    Row("post",   f"{V1}/deposits",                            403, 403, 201, 403, "deposit"),
    Row("post",   f"{V1}/withdrawals",                         201, 404, 201, 403, "deposit"),
    Row("get",    f"{V1}/transactions",                        200, 200, 200, 200),
    Row("post",   f"{V1}/transactions",                        403, 403, 201, 403, "journal"),
    Row("get",    TXN,                                         200, 404, 200, 200),
    Row("post",   f"{TXN}/post",                               200, 404, 200, 403, "empty", HOLD),
    Row("post",   f"{TXN}/void",                               200, 404, 200, 403, "empty", HOLD),
    Row("post",   f"{TXN}/reverse",                            403, 403, 200, 403, "empty"),
    Row("get",    f"{V1}/orders",                              200, 200, 200, 200),
    Row("post",   f"{V1}/orders",                              201, 404, 201, 403, "order"),
    Row("get",    ORD,                                         200, 404, 200, 200),
    Row("post",   f"{ORD}/complete",                           403, 403, 200, 403, "complete"),
    Row("post",   f"{ORD}/fail",                               403, 403, 200, 403, "empty"),
    Row("post",   f"{ORD}/cancel",                             200, 404, 200, 403, "empty"),
    Row("post",   f"{V1}/orders/deposits",                     403, 403, 403, 403, "order_deposit"),
    Row("get",    f"{V1}/admin/orders",                        403, 403, 200, 200),
    Row("get",    f"{V1}/webhook-endpoints",                   200, 200, 200, 200),
    Row("post",   f"{V1}/webhook-endpoints",                   201, 201, 201, 201, "endpoint"),
    Row("get",    HOOK,                                        200, 404, 404, 404),
    Row("patch",  HOOK,                                        200, 404, 404, 404, "pause"),
    Row("delete", HOOK,                                        204, 404, 404, 404),
    Row("post",   f"{HOOK}/rotate-secret",                     200, 404, 404, 404, "empty"),
    Row("get",    f"{HOOK}/deliveries",                        200, 404, 404, 404),
    Row("post",   f"{HOOK}/deliveries/<str:delivery_id>/retry", 200, 404, 404, 404, "empty"),
    Row("get",    f"{V1}/events",                              200, 200, 200, 200),
    Row("post",   f"{V1}/exports",                             202, 404, 202, 202, "export"),
    Row("get",    EXP,                                         200, 404, 404, 404),
    Row("get",    f"{EXP}/download",                           200, 404, 404, 404),
    Row("patch",  ACC,                                         200, 404, 200, 403, "rename"),
    Row("post",   f"{ACC}/close",                              409, 404, 409, 403, "empty"),
    Row("post",   f"{V1}/auth/logout",                         204, 400, 400, 400, "logout"),  # A's refresh token
    Row("post",   f"{V1}/auth/verify-email/request",           202, 202, 202, 202, "empty"),
    Row("post",   f"{V1}/auth/verify-email/confirm",           400, 400, 400, 400, "bad_token", public="any"),
    Row("post",   f"{V1}/auth/password-reset/request",         202, 202, 202, 202, "reset", public="any"),
    Row("post",   f"{V1}/auth/password-reset/confirm",         400, 400, 400, 400, "bad_reset", public="any"),
    Row("get",    f"{V1}/users",                               403, 403, 403, 403),
    Row("get",    USR,                                         403, 403, 403, 403),
    Row("patch",  USR,                                         403, 403, 403, 403, "role"),
    Row("post",   f"{USR}/deactivate",                         403, 403, 403, 403, "empty"),
    Row("post",   f"{USR}/reactivate",                         403, 403, 403, 403, "empty"),
    Row("get",    "/api/schema/",                              200, 200, 200, 200, public="open"),
    Row("get",    "/api/docs/",                                200, 200, 200, 200, public="open"),
    Row("get",    "/api/redoc/",                               200, 200, 200, 200, public="open"),
]  # fmt: skip

ARGS = {
    "account_id": lambda o: o.account.public_id,
    "transaction_id": lambda o: o.posted.public_id,
    "hold": lambda o: o.hold.public_id,
    "order_id": lambda o: o.order.order_id,
    "endpoint_id": lambda o: o.endpoint.public_id,
    "delivery_id": lambda o: o.delivery.public_id,
    "export_id": lambda o: o.export.public_id,
    "key_id": lambda o: o.spare_key.pk,
    "user_id": lambda o: o.b.pk,
}


def _move(o: Objects) -> dict:
    return {"from_account": o.account.public_id, "to_account": o.b_account.public_id, "amount": "1"}


BODIES = {
    "empty": lambda o: {},
    "register": lambda o: {"email": "newcomer@example.com", "password": "correct horse 9 staple"},
    "login": lambda o: {"email": o.a.email, "password": TEST_PASSWORD},
    "refresh": lambda o: {"refresh": str(token_pair_for(o.a))},
    "api_key": lambda o: {"name": "server"},
    "open_account": lambda o: {"asset": "USD"},
    "transfer": _move,
    "batch": lambda o: {"transfers": [_move(o)]},
    "deposit": lambda o: {"account": o.account.public_id, "amount": "1"},
    "journal": lambda o: {
        "entries": [
            {"account": o.account.public_id, "amount": "-1"},
            {"account": o.b_account.public_id, "amount": "1"},
        ]
    },
    "order": lambda o: {"account": o.account.public_id, "amount": "1"},
    "complete": lambda o: {"tx_hash": "0x" + "cd" * 32},
    # The indexer right is no operator's (OPERATOR_RIGHTS): only an indexer's key reports.
    "order_deposit": lambda o: {
        "order_id": o.order.order_id,
        "tx_hash": "0x" + "ef" * 32,
        "amount": "3.00",
        "confirmations": 12,
    },
    "endpoint": lambda o: {"url": "http://127.0.0.1:9/hook"},
    "pause": lambda o: {"is_active": False},
    "export": lambda o: {"kind": "entries", "account": o.account.public_id},
    "rename": lambda o: {"name": "Renamed"},
    "logout": lambda o: {"refresh": str(token_pair_for(o.a))},
    "bad_token": lambda o: {"token": "not-a-token"},
    "reset": lambda o: {"email": o.a.email},
    "bad_reset": lambda o: {"token": "not-a-token", "password": "correct horse 9 staple"},
    "role": lambda o: {"role": "operator"},
}

AUDITOR_RIGHTS = [VIEW_ACCOUNTS, VIEW_TRANSACTIONS, VIEW_ORDERS, VIEW_EVENTS]


def _bearer(token) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _api_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw}")
    return client


@pytest.fixture
def objects(settings, file_storage, customer, other_customer, funded):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    operator = UserFactory(is_staff=True, rights=OPERATOR_RIGHTS)
    auditor = UserFactory(is_staff=True, rights=AUDITOR_RIGHTS)
    account, account2 = funded(customer, "1000.00"), funded(customer, "0")
    b_account = funded(other_customer, "0")
    endpoint = create_endpoint(actor=customer, url="http://127.0.0.1:9/hook")
    hold = post_batch(
        actor=customer,
        items=[TransferItem(account.pk, account2.pk, Decimal("5.00"), pending=True)],
    )[0]
    posted = post_batch(actor=customer, items=[TransferItem(account.pk, account2.pk, Decimal("1"))])
    order = create_order(actor=customer, account_id=account.pk, amount=Decimal("3.00"))
    delivery = Delivery.objects.filter(endpoint=endpoint).order_by("pk").first()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)
    export = request_export(actor=customer, kind="entries", account=account)
    build_export(export_id=export.pk)
    spare_key, _ = create_api_key(actor=operator, name="spare")
    _, operator_raw = create_api_key(actor=operator, name="server")
    revoked, revoked_raw = create_api_key(actor=operator, name="old")
    revoke_api_key(actor=operator, api_key_id=revoked.pk)
    # Customers cannot make keys (accounts.services.create_api_key); a row for A stands for
    # one left from when A was staff: it must authenticate nobody.
    customer_raw = "lf_custkey0_" + "c" * 43
    ApiKey.objects.create(user=customer, name="stale", hashed_key=hash_key(customer_raw))
    expired = token_pair_for(customer).access_token
    expired.set_exp(from_time=timezone.now() - timedelta(hours=1))
    clients = {
        "anon": APIClient(),
        "a": client_for(customer),
        "b": client_for(other_customer),
        "op": client_for(operator),
        "aud": client_for(auditor),
        "key_a": _api_key(customer_raw),
        "key_op": _api_key(operator_raw),
        "revoked_key": _api_key(revoked_raw),
        "expired_jwt": _bearer(expired),
    }
    return Objects(
        customer, other_customer, operator, auditor, account, account2, b_account, hold,
        posted[0], order, endpoint, delivery, Export.objects.get(pk=export.pk), spare_key, clients,
    )  # fmt: skip


def _concrete(row: Row, o: Objects) -> str:
    named = dict(row.args)

    def arg(match: re.Match) -> str:
        name = match["name"]
        return str(ARGS[named.get(name, name)](o))

    return re.sub(r"<(?:\w+:)?(?P<name>\w+)>", arg, row.route)


def _everything(o: Objects):
    """What a refused request must not change: books, orders, keys, endpoints, exports."""
    return (
        list(Transaction.objects.order_by("pk").values_list("pk", "status")),
        Entry.objects.count(),
        list(Account.objects.order_by("pk").values_list("pk", "balance", "status")),
        list(Order.objects.order_by("pk").values_list("pk", "status")),
        list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at")),
        list(WebhookEndpoint.objects.order_by("pk").values_list("pk", "is_active", "secret")),
        list(Delivery.objects.order_by("pk").values_list("pk", "status")),
        Export.objects.count(),
        User.objects.count(),
    )


REFUSAL_CODES = {
    400: {"invalid_token"},  # the verify-email and password-reset links
    401: {"not_authenticated", "authentication_failed"},
    403: {"permission_denied"},
    409: {"account_has_pending_holds"},  # closing A's account, which holds money and a hold
}


def _wrong(row: Row, role: str, o: Objects) -> str | None:
    """Call as `role`; what is wrong with the answer (None: as expected). Rolled back after,
    so each caller meets the same objects and one row's world serves every caller."""
    expected = row.expected(role)
    body = BODIES[row.body](o) if row.body else None
    before = _everything(o)
    with transaction.atomic():
        response = o.clients[role].generic(
            row.method.upper(),
            _concrete(row, o),
            json.dumps(body) if body is not None else "",
            content_type="application/json",
        )
        after = _everything(o)
        transaction.set_rollback(True)
    content = b"(a file)" if response.streaming else response.content[:160]
    seen = f"{role}: {response.status_code} {content!r}"
    if response.status_code != expected:
        return f"{seen}, expected {expected}"
    if expected < 400:
        return None
    if response["Content-Type"] != "application/problem+json":
        return f"{seen}: not problem+json"
    if response.json()["code"] not in REFUSAL_CODES.get(expected, {"not_found"}):
        return f"{seen}: wrong code"
    if after != before:
        return f"{seen}: refused, but something changed"
    return None


@pytest.mark.parametrize("row", MATRIX, ids=[f"{r.method} {r.route}" for r in MATRIX])
def test_role_matrix(row, objects):
    wrong = [problem for role in ROLES if (problem := _wrong(row, role, objects))]
    assert wrong == []


def _routes(resolver=None, prefix=""):
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, route)
        elif isinstance(entry, URLPattern):
            cls = getattr(entry.callback, "cls", None)
            methods = {m for m in getattr(cls, "http_method_names", ()) if hasattr(cls, m)}
            yield "/" + route.lstrip("^").rstrip("$"), methods - {"options", "head"}


def test_every_api_route_is_in_the_role_matrix():
    """A new endpoint cannot ship without deciding, per caller, what it answers."""
    in_matrix = {(r.method, r.route) for r in MATRIX}
    served = {
        (method, route)
        for route, methods in _routes()
        if route.startswith("/api/") and "<path:" not in route
        for method in methods
    }
    unclassified = served - in_matrix
    assert not unclassified, f"add a Row to MATRIX for: {sorted(unclassified)}"
    assert in_matrix <= served, f"MATRIX names what is not served: {in_matrix - served}"
    assert len(in_matrix) == len(MATRIX), "a (method, route) appears twice in MATRIX"
