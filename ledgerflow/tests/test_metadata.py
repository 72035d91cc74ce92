"""`metadata` on every endpoint that takes it: a bounded JSON object, stored exactly, or a 400."""

import json
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from accounts.models import Account
from conftest import client_for
from ledger.models import IdempotencyKey, Transaction
from ledgerflow.fields import MAX_BYTES, MAX_DEPTH, MAX_KEY_LENGTH, MAX_KEYS, validate_metadata
from webhooks.models import Event

pytestmark = pytest.mark.django_db


def deep(levels: int) -> dict:
    value: dict = {}
    for _ in range(levels - 1):
        value = {"k": value}
    return value


# As JSON text: json.dumps writes NUL and lone surrogates as the escapes a client would send.
BAD: dict[str, object] = {
    "a list": [1, 2],
    "a string": "x",
    "null": None,
    "too many keys": {f"k{i}": i for i in range(MAX_KEYS + 1)},
    "a long key": {"k" * (MAX_KEY_LENGTH + 1): 1},
    "a long nested key": {"outer": {"k" * (MAX_KEY_LENGTH + 1): 1}},
    "too deep": deep(MAX_DEPTH + 1),
    "too deep in a list": {"a": [[[[{}]]]]},
    "too large": {f"k{i}": "x" * 400 for i in range(25)},
    "NUL in a value": {"note": "a\x00b"},
    "NUL in a key": {"a\x00": 1},
    "NUL deep down": {"a": [{"b": ["\x00"]}]},
    "a lone surrogate in a value": {"note": "\ud800"},
    "a lone surrogate in a key": {"\udfff": 1},
}


@pytest.fixture
def superuser(user_factory):
    return user_factory(is_staff=True, is_superuser=True)


@pytest.fixture
def endpoints(superuser, customer, funded):
    """(client, path, body without metadata, how to put metadata in) for every taker."""
    source, target = funded(customer), funded(customer, "0.00")
    owner, operator = client_for(customer), client_for(superuser)
    transfer = {"from_account": source.public_id, "to_account": target.public_id, "amount": "1"}

    def top(body, metadata):
        return {**body, "metadata": metadata}

    return {
        "accounts": (owner, "/api/v1/accounts", {"asset": "USD"}, top),
        "transfers": (owner, "/api/v1/transfers", transfer, top),
        "batch": (
            owner,
            "/api/v1/transfers/batch",
            {"transfers": [transfer]},
            lambda body, metadata: {"transfers": [{**transfer, "metadata": metadata}]},
        ),
        "deposits": (
            operator,
            "/api/v1/deposits",
            {"account": target.public_id, "amount": "1"},
            top,
        ),
        "withdrawals": (
            operator,
            "/api/v1/withdrawals",
            {"account": source.public_id, "amount": "1"},
            top,
        ),
        "journal": (
            operator,
            "/api/v1/transactions",
            {
                "entries": [
                    {"account": source.public_id, "amount": "-1"},
                    {"account": target.public_id, "amount": "1"},
                ]
            },
            top,
        ),
    }


def state():
    return (
        Account.objects.count(),
        Transaction.objects.count(),
        Event.objects.count(),
        IdempotencyKey.objects.count(),
        sorted(Account.objects.values_list("balance", flat=True)),
    )


def send(endpoint, metadata, key: str):
    client, path, body, put = endpoint
    text = json.dumps(put(body, metadata), default=str)
    return client.post(path, text, content_type="application/json", HTTP_IDEMPOTENCY_KEY=key)


ENDPOINTS = ["accounts", "transfers", "batch", "deposits", "withdrawals", "journal"]


@pytest.mark.parametrize("name", ENDPOINTS)
def test_bad_metadata_is_400_on_every_endpoint_and_writes_nothing(endpoints, name):
    before = state()
    offenders = []

    for case, metadata in BAD.items():
        response = send(endpoints[name], metadata, key=case)
        body = response.json()
        # A batch reports an invalid item as 422 with its index, as for any item field.
        status, index = (422, 0) if name == "batch" else (400, None)
        if not (
            response.status_code == status
            and body.get("code") == "validation_error"
            and body.get("errors", {}).get("metadata")
            and body.get("index") == index
        ):
            offenders.append(f"{case}: {response.status_code} {response.content[:200]!r}")

    assert offenders == []
    assert state() == before


@pytest.mark.parametrize("name", ENDPOINTS)
def test_good_metadata_is_stored_exactly(endpoints, name):
    metadata = {
        "price": 1.5,
        "count": 3,
        "tiny": 0.000000000000000000000000001,
        "text": "naïve ☕ 𝄞",
        "flag": True,
        "none": None,
        "nested": deep(MAX_DEPTH - 1),
        "k" * MAX_KEY_LENGTH: [1, "two"],
    }

    response = send(endpoints[name], metadata, key="good")

    assert response.status_code in (201, 202), response.content[:300]
    if name == "accounts":
        stored = Account.objects.get(public_id=response.json()["id"]).metadata
    else:
        stored = Transaction.objects.order_by("-pk").first().metadata
    # Non-integers as their exact decimal strings, never a rounded float.
    assert stored["price"] == "1.5"
    assert Decimal(stored["tiny"]) == Decimal("1E-27")
    assert {k: v for k, v in stored.items() if k not in ("price", "tiny")} == {
        k: v for k, v in metadata.items() if k not in ("price", "tiny")
    }


def test_the_limits_themselves_are_allowed():
    validate_metadata({f"k{i}": i for i in range(MAX_KEYS)})
    validate_metadata(deep(MAX_DEPTH))
    validate_metadata({"k": "x" * (MAX_BYTES - 20)})
    validate_metadata({})


def test_one_byte_over_the_size_is_refused():
    fits = {"k": "x" * (MAX_BYTES - len('{"k": ""}'))}
    validate_metadata(fits)

    with pytest.raises(ValidationError):
        validate_metadata({"k": fits["k"] + "x"})


def test_the_admin_form_refuses_what_the_api_refuses(customer, funded):
    # Account.metadata is editable in the admin: the model field carries the same validator.
    account = funded(customer, "0.00")
    account.metadata = {"note": "a\x00b"}

    with pytest.raises(ValidationError) as refused:
        account.full_clean()

    assert "metadata" in refused.value.message_dict
    account.refresh_from_db()
    assert account.metadata == {}
