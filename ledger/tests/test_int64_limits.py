"""Sums that would leave int64 are field errors checked before anything is written (DESIGN §3).

An asset at exponent 18 makes int64 small: "9" is 9 * 10**18 minor units, two of them overflow.
"""

from decimal import Decimal

import pytest

from accounts.models import Account
from accounts.tests.factories import AccountFactory, AssetFactory
from audit.models import AuditLog
from conftest import client_for
from ledger import services
from ledger.models import Entry, Transaction
from ledgerflow.errors import ValidationFailed
from ledgerflow.money import INT64_MAX
from webhooks.models import Event

pytestmark = pytest.mark.django_db

NINE = Decimal("9")  # 9 * 10**18 minor units: fits int64 once, not twice


@pytest.fixture
def wei():
    return AssetFactory(code="WEI18", exponent=18)


@pytest.fixture
def superuser(user_factory):
    return user_factory(is_staff=True, is_superuser=True)


def system(asset):
    """An operator-owned account that may go negative (like world): no funds check on holds."""
    return AccountFactory(owner=None, asset=asset, allow_negative=True)


def state():
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        Event.objects.count(),
        AuditLog.objects.count(),
        sorted(
            Account.objects.values_list(
                "pk", "balance", "version", "pending_debits", "pending_credits"
            )
        ),
    )


def hold(actor, source, target, amount=NINE):
    return services.post_transfer(
        actor=actor,
        from_account_id=source.pk,
        to_account_id=target.pk,
        amount=amount,
        pending=True,
    )


def test_holds_past_int64_of_pending_debits_are_a_field_error(superuser, customer, wei):
    source = system(wei)
    hold(superuser, source, AccountFactory(owner=customer, asset=wei))
    before = state()

    with pytest.raises(ValidationFailed) as info:
        hold(superuser, source, AccountFactory(owner=customer, asset=wei))

    assert "amount" in info.value.errors
    assert "64 bits" in info.value.detail
    assert state()[:4] == before[:4]
    source.refresh_from_db()
    assert source.pending_debits == 9 * 10**18


def test_holds_past_int64_of_pending_credits_are_a_field_error(superuser, customer, wei):
    target = AccountFactory(owner=customer, asset=wei)
    hold(superuser, system(wei), target)
    second_source = system(wei)
    before = state()

    with pytest.raises(ValidationFailed) as info:
        hold(superuser, second_source, target)

    assert "amount" in info.value.errors
    assert state() == before
    target.refresh_from_db()
    assert target.pending_credits == 9 * 10**18


def test_a_hold_up_to_exactly_int64_is_accepted(superuser, customer, wei):
    source, target = system(wei), AccountFactory(owner=customer, asset=wei)
    hold(superuser, source, target)
    rest = Decimal(INT64_MAX - 9 * 10**18).scaleb(-18)
    hold(superuser, source, target, amount=rest)
    source.refresh_from_db()
    target.refresh_from_db()
    assert source.pending_debits == target.pending_credits == INT64_MAX


def test_a_journal_whose_total_overflows_int64_is_a_field_error(superuser, customer, wei):
    a, b = AccountFactory(owner=customer, asset=wei), AccountFactory(owner=customer, asset=wei)
    s1, s2 = system(wei), system(wei)
    before = state()

    with pytest.raises(ValidationFailed) as info:
        services.post_journal(
            actor=superuser,
            entries=[(a.pk, NINE), (b.pk, NINE), (s1.pk, -NINE), (s2.pk, -NINE)],
        )

    assert "entries" in info.value.errors
    assert state() == before


def test_a_journal_of_one_account_many_times_cannot_overflow_its_total(superuser, customer, wei):
    a = AccountFactory(owner=customer, asset=wei)
    before = state()
    with pytest.raises(ValidationFailed):
        services.post_journal(
            actor=superuser, entries=[(a.pk, NINE), (a.pk, -NINE), (a.pk, NINE), (a.pk, -NINE)]
        )
    assert state() == before


# --- over HTTP: 422 problem+json, never a 500 ------------------------------------------------


def test_api_journal_total_overflow_is_422_with_a_field_error(superuser, customer, wei):
    a, b = AccountFactory(owner=customer, asset=wei), AccountFactory(owner=customer, asset=wei)
    s1, s2 = system(wei), system(wei)
    before = state()

    response = client_for(superuser).post(
        "/api/v1/transactions",
        {
            "entries": [
                {"account": a.public_id, "amount": "9"},
                {"account": b.public_id, "amount": "9"},
                {"account": s1.public_id, "amount": "-9"},
                {"account": s2.public_id, "amount": "-9"},
            ]
        },
        format="json",
    )

    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"
    assert "entries" in response.json()["errors"]
    assert state() == before


def test_api_hold_overflowing_pending_credits_is_422(superuser, customer, wei):
    target = AccountFactory(owner=customer, asset=wei)
    hold(superuser, system(wei), target)
    second_source = system(wei)
    before = state()

    response = client_for(superuser).post(
        "/api/v1/transfers",
        {
            "from_account": second_source.public_id,
            "to_account": target.public_id,
            "amount": "9",
            "pending": True,
        },
        format="json",
    )

    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "validation_error"
    assert "amount" in response.json()["errors"]
    assert state() == before
