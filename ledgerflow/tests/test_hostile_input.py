# ruff: noqa: F811  (tests take the imported `objects` fixture as an argument)
"""Hostile input on every endpoint (issue 12, item 2): never a 5xx, every error problem+json,
nothing changed by a refusal.

The endpoints come from walking the URL conf; what each takes (query parameters, body fields)
from the OpenAPI document generated from the same views, so a new endpoint is attacked without
touching this file. Valid bodies and real objects come from the role matrix
(test_access_matrix.py: every route has a row there), so the attacks reach the code behind the
parser, the permissions and the lookups. Each attack runs in a savepoint rolled back after it:
one world per endpoint serves them all, and `_everything` shows whether a refusal wrote.

Oversized bodies on every endpoint are test_request_bodies' (it walks the URL conf too), wrong
methods test_methods', metadata test_metadata's; not repeated here.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache

import pytest
from django.db import transaction
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import AccountFactory, UserFactory
from conftest import client_for
from ledger.models import Transaction
from ledger.services import post_deposit
from ledgerflow.tests.test_access_matrix import (
    ARGS,
    BODIES,
    MATRIX,
    Objects,
    _everything,
    _routes,
    objects,  # noqa: F401  the fixture, shared with the role matrix
)

pytestmark = pytest.mark.django_db

ROUTES = sorted(
    (method, route)
    for route, methods in _routes()
    if route.startswith("/api/v1/") and "<path:" not in route
    for method in methods
)
VALID = {(row.method, row.route): row for row in MATRIX}
CALLERS = ("op", "a")  # staff holding every operator right; customer A, who owns the objects

NUL, RTL_EMOJI = "ref\x00erence", "\u202eevil\u202c 💸👩‍👩‍👧 \u200f"
TIMES = [
    "0000-01-01T00:00:00Z",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    "9999-12-31T23:59:59-14:00",  # past the largest datetime once in UTC
    "-0001-01-01T00:00:00Z",
    "2025-13-45T25:61:61Z",
    "2025-01-01T00:00:00",  # naive
    "1e10",
    "garbage",
    "",
]
NUMBERS = ["-1", "0", "99999999999999999999999999", "1e3", "NaN", "-0", "1.5", "", "x"]
STRINGS = [NUL, RTL_EMOJI, "x" * 5000, "' OR 1=1 --", "<script>alert(1)</script>"]
CURSORS = [
    "garbage",
    "%%%",
    "bz0tMSZwPXg=",  # base64 "o=-1&p=x"
    "bz05OTk5OTk5OTk5OTk5OTk5OTk5OTkmcj0xJnA9MjAyNQ==",  # a huge offset
    "cD0wMDAwLTAxLTAx",  # base64 "p=0000-01-01", a position no column holds
    "\x00",
]
PAGINATION = ("limit", "offset", "cursor", "page", "page_size")
TIME_NAMES = re.compile(r"(^|_)(at|after|before|from|to)$")


def _schema_path(route: str) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route)


@cache
def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def _operation(method: str, route: str) -> dict:
    return _schema()["paths"].get(_schema_path(route), {}).get(method, {})


def _resolve(node: dict) -> dict:
    while "$ref" in node:
        node = _schema()["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def _body_fields(op: dict) -> dict[str, dict]:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    return _resolve(content["schema"]).get("properties", {}) if content else {}


def _query_params(op: dict) -> list[str]:
    named = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
    return sorted(set(named) | set(PAGINATION))


@dataclass
class Attack:
    label: str
    path: str
    body: bytes | str = ""
    content_type: str = "application/json"
    query: dict = field(default_factory=dict)
    # Statuses allowed when the valid request succeeds (None: any below 500).
    expect: set[int] | None = None


def _query_values(name: str) -> list[str]:
    if name == "cursor":
        return CURSORS
    if TIME_NAMES.search(name):
        return TIMES
    if name in PAGINATION or name == "version":
        return NUMBERS
    return ["garbage", "\x00", "x" * 2000, "' OR 1=1 --", "acc_000000000000000000000000"]


def _wrong_ids(o: Objects) -> list[str]:
    """Ids of the wrong shape, of another kind of object, or overlong."""
    return [
        "x",
        "acc_" + "0" * 24,
        o.posted.public_id,  # a transaction where an account or order is expected
        o.account.public_id,  # an account where a transaction or order is expected
        "' OR '1'='1",
        "%00",
        "😀",
        "9" * 40,
        "a" * 3000,
    ]


def _concrete(route: str, o: Objects, row, replace: tuple[str, str] | None = None) -> str:
    named = dict(row.args) if row else {}

    def arg(match: re.Match) -> str:
        name = match["name"]
        if replace and replace[0] == name:
            return replace[1]
        getter = ARGS.get(named.get(name, name))
        return str(getter(o)) if getter else "1"

    return re.sub(r"<(?:\w+:)?(?P<name>\w+)>", arg, route)


def attacks(method: str, route: str, o: Objects, other_asset: str) -> Iterator[Attack]:
    row = VALID.get((method, route))
    op = _operation(method, route)
    path = _concrete(route, o, row)
    base = BODIES[row.body](o) if row and row.body else {}

    for name in re.findall(r"<(?:\w+:)?(\w+)>", route):
        real = _concrete(f"<{name}>", o, row)
        for wrong in [w for w in [*_wrong_ids(o), "99999999999999999999999"] if w != real]:
            bad_path = _concrete(route, o, row, (name, wrong))
            yield Attack(f"path {name}={wrong[:20]!r}", bad_path, json.dumps(base), expect=set())

    if method == "get":
        for name in _query_params(op):
            for query_value in _query_values(name):
                yield Attack(f"?{name}={query_value[:20]!r}", path, query={name: query_value})
        return

    fields = _body_fields(op)
    parse_errors = {400} if fields else None  # a view that reads no body may ignore it
    yield Attack("malformed JSON", path, '{"amount": "1.00",', expect=parse_errors)
    yield Attack("invalid UTF-8", path, b'{"reference": "\xff\xfe"}', expect=parse_errors)
    yield Attack("nested 100,000 deep", path, "[" * 100_000 + "]" * 100_000, expect=parse_errors)
    for text in ("[]", '"x"', "null", "1", ""):
        yield Attack(f"body {text!r}", path, text)
    for content_type, text in (
        ("text/plain", json.dumps(base)),
        ("application/x-www-form-urlencoded", "amount=1&account=x"),
        ("multipart/form-data; boundary=zz", "--zz\r\ngarbage\r\n--zz--"),
        ("application/xml", "<transfer/>"),
        ("application/json; charset=utf-16", json.dumps(base)),
    ):
        expect = {400, 415} if fields else None
        yield Attack(f"content type {content_type}", path, text, content_type, expect=expect)
    yield Attack("unknown fields", path, json.dumps({**base, "zz_unknown": {"a": [1]}, "id": 7}))

    for name, spec in fields.items():
        spec = _resolve(spec)
        values: list[object] = [None, [], {}, True, 1e300, -(2**70), "x" * 5000, RTL_EMOJI]
        if spec.get("type") == "string" or "format" in spec:
            values.append(NUL)
        if TIME_NAMES.search(name) or spec.get("format") == "date-time":
            values.extend(TIMES)
        if "account" in name or name.endswith("_id") or name in ("account", "order_id"):
            values.extend([*_wrong_ids(o), other_asset])
        for value in values:
            # A NUL byte can be stored nowhere (PostgreSQL text refuses it): always refused.
            expect = {400, 422} if value == NUL else None
            if value == other_asset and name in ("from_account", "to_account"):
                expect = {404, 422}
            body = json.dumps({**base, name: value})
            yield Attack(f"{name}={str(value)[:20]!r}", path, body, expect=expect)


def _send(client, method: str, attack: Attack):
    data = attack.body if attack.body else ""
    if attack.query:
        return client.get(attack.path, attack.query)
    return client.generic(method.upper(), attack.path, data, content_type=attack.content_type)


def _judge(response, attack: Attack, baseline: int, before, after) -> str | None:
    status = response.status_code
    if status >= 500:
        return "a server error"
    if status >= 400:
        if response["Content-Type"] != "application/problem+json":
            return f"{status} not problem+json"
        body = response.json()
        if body.get("status") != status or not body.get("code"):
            return f"{status} without code/status"
        if after != before:
            return f"{status} refused, but something changed"
    # 429: throttled before the body was looked at (login and recovery endpoints).
    refused = attack.expect is not None and status not in attack.expect and status != 429
    if refused and baseline < 300:
        if attack.expect or status < 400:  # an empty set: anything but success
            return f"{status}, expected one of {sorted(attack.expect or ()) or '4xx'}"
    return None


def _rolled_back(client, method: str, attack: Attack, o: Objects):
    before = _everything(o)
    with transaction.atomic():
        response = _send(client, method, attack)
        after = _everything(o)
        transaction.set_rollback(True)
    return response, before, after


@pytest.fixture
def other_asset(objects) -> str:
    """A funded EUR account of customer A: an id of the right shape in the wrong asset."""
    account = AccountFactory.create(owner=objects.a, asset__code="EUR")
    post_deposit(actor=objects.operator, account_id=account.pk, amount=Decimal("1"))
    return account.public_id


@pytest.mark.parametrize(("method", "route"), ROUTES, ids=[f"{m} {r}" for m, r in ROUTES])
def test_hostile_input_is_refused_cleanly(method, route, objects, other_asset):
    offenders, tried = [], 0
    row = VALID.get((method, route))
    valid = Attack("valid", _concrete(route, objects, row))
    if row and row.body:
        valid.body = json.dumps(BODIES[row.body](objects))
    for caller in CALLERS:
        client = objects.clients[caller]
        baseline = _rolled_back(client, method, valid, objects)[0].status_code
        for attack in attacks(method, route, objects, other_asset):
            tried += 1
            response, before, after = _rolled_back(client, method, attack, objects)
            wrong = _judge(response, attack, baseline, before, after)
            if wrong:
                content = b"" if response.streaming else response.content[:150]
                offenders.append(f"{caller} {attack.label}: {wrong} {content!r}")
    assert tried
    assert offenders == []


def test_the_walk_reaches_every_kind_of_input():
    """The walk is not vacuous: bodies, query parameters and path ids are all attacked."""
    op = _operation("get", "/api/v1/transactions")
    assert {"created_after", "cursor", "page_size", "limit"} <= set(_query_params(op))
    assert {"from_account", "reference"} <= set(
        _body_fields(_operation("post", "/api/v1/transfers"))
    )
    assert ("post", "/api/v1/transfers") in ROUTES
    assert ("delete", "/api/v1/api-keys/<int:key_id>") in ROUTES


# --- references: stored verbatim, escaped in the admin ------------------------------------------

HOSTILE_REFERENCE = "'; DROP TABLE ledger_entry; -- <script>alert('x')</script> \u202etxet 💸"


def test_sql_and_html_in_a_reference_are_stored_verbatim_and_escaped_in_the_admin(
    customer, funded, client
):
    source, target = funded(customer, "10.00"), funded(customer, "0")
    response = client_for(customer).post(
        "/api/v1/transfers",
        {
            "from_account": source.public_id,
            "to_account": target.public_id,
            "amount": "1",
            "reference": HOSTILE_REFERENCE,
            "category": "<b>bold</b>",
        },
        format="json",
    )

    assert response.status_code == 201, response.content
    assert response.json()["reference"] == HOSTILE_REFERENCE
    txn = Transaction.objects.get(public_id=response.json()["id"])
    assert (txn.reference, txn.category) == (HOSTILE_REFERENCE, "<b>bold</b>")

    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    for url in (
        f"/admin/ledger/transaction/{txn.pk}/change/",
        f"/admin/ledger/transaction/?q={txn.public_id}",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        html = page.content.decode()
        assert "<script>alert(" not in html, url
        assert "<b>bold</b>" not in html, url
    change = client.get(f"/admin/ledger/transaction/{txn.pk}/change/").content.decode()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in change
    assert "DROP TABLE ledger_entry" in change


# --- random JSON where the transfer's fields go ----------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fields=st.dictionaries(
    st.sampled_from(["from_account", "to_account", "amount", "reference", "category",
                     "metadata", "pending", "expires_at", "zz"]),
    JSON_VALUES,
    max_size=4,
))  # fmt: skip
def test_random_json_in_a_transfer_never_breaks_the_server(objects, fields):
    attack = Attack(
        "random", "/api/v1/transfers", json.dumps({**BODIES["transfer"](objects), **fields})
    )
    for caller in CALLERS:
        response, before, after = _rolled_back(objects.clients[caller], "post", attack, objects)
        assert _judge(response, attack, 500, before, after) is None, response.content[:300]
