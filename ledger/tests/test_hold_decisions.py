"""Settling holds: no capture after expiry, no approving your own review, audited deciders."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account, Asset
from audit.models import AuditLog
from conftest import client_for
from ledger import services
from ledger.models import Entry, RiskRule, Transaction
from ledgerflow.errors import InvalidState, PermissionDenied
from webhooks.models import Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(user_factory):
    return user_factory(is_staff=True, is_superuser=True)


@pytest.fixture
def second_operator(user_factory):
    return user_factory(is_staff=True, is_superuser=True)


@pytest.fixture
def review_over_100():
    """Outgoing customer money of 100.00 or more waits for an operator."""
    return RiskRule.objects.create(
        name="review 100",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action=RiskRule.Action.REVIEW,
        limit=10000,
        asset=Asset.objects.get(code="USD"),
    )


def state():
    return (
        sorted(Transaction.objects.values_list("pk", "status", "amount")),
        Entry.objects.count(),
        Event.objects.count(),
        AuditLog.objects.filter(action__startswith="money.").count(),
        sorted(Account.objects.values_list("pk", "balance", "pending_debits", "pending_credits")),
    )


def hold(customer, source, target, amount="30.00"):
    return services.post_transfer(
        actor=customer,
        from_account_id=source.pk,
        to_account_id=target.pk,
        amount=Decimal(amount),
        pending=True,
        expires_at=timezone.now() + timedelta(hours=1),
    )


def let_expire(txn):
    """The clock passes `expires_at` (and beat has not run yet)."""
    Transaction.objects.filter(pk=txn.pk).update(expires_at=timezone.now() - timedelta(seconds=1))


# --- an expired hold is no longer capturable ---------------------------------------------------


def test_an_expired_hold_cannot_be_posted(customer, other_customer, funded):
    txn = hold(customer, funded(customer, "100.00"), funded(other_customer, "0"))
    let_expire(txn)
    before = state()

    with pytest.raises(InvalidState, match="expired"):
        services.post_pending(actor=customer, transaction_id=txn.pk)

    assert state() == before


def test_api_capture_of_an_expired_hold_is_409_and_moves_nothing(
    customer, other_customer, funded, customer_client
):
    txn = hold(customer, funded(customer, "100.00"), funded(other_customer, "0"))
    let_expire(txn)
    before = state()

    response = customer_client.post(f"/api/v1/transactions/{txn.public_id}/post", {}, format="json")

    assert response.status_code == 409, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["code"] == "invalid_state"
    assert "expired" in body["detail"]
    assert state() == before


def test_an_expired_hold_can_still_be_voided(customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    txn = hold(customer, a, b)
    let_expire(txn)

    services.void_pending(actor=customer, transaction_id=txn.pk)

    a.refresh_from_db()
    assert (Transaction.objects.get(pk=txn.pk).status, a.pending_debits) == ("voided", 0)


def test_a_review_hold_does_not_expire(customer, other_customer, funded, operator, review_over_100):
    a, b = funded(customer, "500.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("200.00")
    )
    assert txn.hold_reason == "review"
    let_expire(txn)  # even with a deadline written on it, review waits for its operator

    assert services.expire_holds() == 0
    posted = services.post_pending(actor=operator, transaction_id=txn.pk)

    assert posted.status == Transaction.Status.POSTED
    b.refresh_from_db()
    assert b.balance == 20000


# --- voids name who voided -------------------------------------------------------------------


def test_an_operator_void_is_audited_with_the_operator(customer, other_customer, funded, operator):
    txn = hold(customer, funded(customer, "100.00"), funded(other_customer, "0"))

    services.void_pending(actor=operator, transaction_id=txn.pk)

    row = AuditLog.objects.get(action="money.transfer.voided")
    assert (row.actor, row.target_id) == (operator, str(txn.pk))


def test_a_review_decline_is_audited_with_the_operator(
    customer, other_customer, funded, operator, review_over_100
):
    a, b = funded(customer, "500.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("200.00")
    )

    services.void_pending(actor=operator, transaction_id=txn.pk, reason="declined")

    row = AuditLog.objects.get(action="money.transfer.voided")
    assert row.actor == operator


def test_an_expiry_by_beat_is_audited_as_nobody(customer, other_customer, funded):
    txn = hold(customer, funded(customer, "100.00"), funded(other_customer, "0"))
    let_expire(txn)

    assert services.expire_holds() == 1

    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.VOIDED
    assert not AuditLog.objects.filter(action="money.transfer.voided").exclude(actor=None).exists()


# --- four eyes: nobody approves a review they started ---------------------------------------


def test_nobody_approves_a_held_withdrawal_they_started(
    customer, funded, operator, second_operator, review_over_100
):
    account = funded(customer, "500.00")
    txn = services.post_withdrawal(actor=operator, account_id=account.pk, amount=Decimal("150.00"))
    assert (txn.status, txn.hold_reason) == ("pending", "review")
    before = state()

    with pytest.raises(PermissionDenied, match="another operator"):
        services.post_pending(actor=operator, transaction_id=txn.pk)

    assert state() == before
    services.post_pending(actor=second_operator, transaction_id=txn.pk)
    account.refresh_from_db()
    assert (account.balance, account.pending_debits) == (35000, 0)


def test_nobody_approves_a_held_transfer_they_started_but_may_decline_it(
    customer, other_customer, funded, operator, review_over_100
):
    a, b = funded(customer, "500.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=operator, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("100.00")
    )
    assert txn.hold_reason == "review"
    before = state()

    with pytest.raises(PermissionDenied):
        services.post_pending(actor=operator, transaction_id=txn.pk, amount=Decimal("1.00"))
    assert state() == before

    services.void_pending(actor=operator, transaction_id=txn.pk, reason="declined")
    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.VOIDED


def test_a_payer_still_captures_their_own_plain_hold(customer, other_customer, funded):
    txn = hold(customer, funded(customer, "100.00"), funded(other_customer, "0"))
    assert services.post_pending(actor=customer, transaction_id=txn.pk).status == "posted"


def test_api_self_approval_is_403_and_another_operator_approves(
    customer, funded, operator, second_operator, review_over_100
):
    account = funded(customer, "500.00")
    started = client_for(operator).post(
        "/api/v1/withdrawals", {"account": account.public_id, "amount": "150.00"}, format="json"
    )
    assert started.status_code == 202, started.content
    txn_id = started.json()["id"]
    before = state()

    response = client_for(operator).post(f"/api/v1/transactions/{txn_id}/post", {}, format="json")

    assert response.status_code == 403, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["code"] == "permission_denied"
    assert state() == before

    approved = client_for(second_operator).post(
        f"/api/v1/transactions/{txn_id}/post", {}, format="json"
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == "posted"


def test_admin_approval_of_your_own_held_withdrawal_is_refused_per_row(
    client, customer, funded, operator, second_operator, review_over_100
):
    from django.contrib.messages import get_messages

    account = funded(customer, "500.00")
    txn = services.post_withdrawal(actor=operator, account_id=account.pk, amount=Decimal("150.00"))
    before = state()
    url = "/admin/ledger/holdunderreview/"

    def approve(user):
        client.force_login(user)
        response = client.post(
            url, {"action": "approve_selected", "_selected_action": [txn.pk]}, follow=True
        )
        assert response.status_code == 200
        return [str(m) for m in get_messages(response.wsgi_request)]

    assert approve(operator) == [
        f"{txn.public_id}: Nobody approves a hold under review that they started: "
        "ask another operator."
    ]
    assert state() == before
    assert approve(second_operator) == [f"{txn.public_id}: posted."]
    assert Transaction.objects.get(pk=txn.pk).status == Transaction.Status.POSTED
