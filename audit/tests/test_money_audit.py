"""Money moved by operators, risk reviews and risk refusals all reach the audit log."""

import pytest

from accounts.models import Asset
from audit.models import AuditLog
from ledger.models import RiskRule

pytestmark = pytest.mark.django_db


def test_staff_deposit_over_the_api_is_audited_with_address_and_request_id(
    staff_client, staff, customer, account_factory
):
    account = account_factory(owner=customer)
    response = staff_client.post(
        "/api/v1/deposits",
        {"account": account.public_id, "amount": "12.00"},
        format="json",
        HTTP_X_REQUEST_ID="req-42",
        REMOTE_ADDR="203.0.113.9",
    )
    assert response.status_code == 201
    row = AuditLog.objects.get(action="money.deposit.posted")
    assert row.actor == staff
    assert (row.ip_address, row.request_id) == ("203.0.113.9", "req-42")
    assert row.after["id"] == response.json()["id"]
    assert row.target_type == "ledger.Transaction"


def test_a_customer_transfer_is_not_an_operator_action(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "10.00"), funded(other_customer, "0")
    AuditLog.objects.all().delete()  # the funding deposit was staff's
    response = customer_client.post(
        "/api/v1/transfers",
        {"from_account": a.public_id, "to_account": b.public_id, "amount": "1.00"},
        format="json",
    )
    assert response.status_code == 201
    assert not AuditLog.objects.exists()


def test_risk_review_and_rejection_are_audited(customer_client, customer, other_customer, funded):
    a, b = funded(customer, "10000.00"), funded(other_customer, "0")
    usd = Asset.objects.get(code="USD")
    RiskRule.objects.create(
        name="review big",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action="review",
        limit=500000,
        asset=usd,
    )
    RiskRule.objects.create(name="cap", kind=RiskRule.Kind.MAX_AMOUNT, limit=700000, asset=usd)
    body = {"from_account": a.public_id, "to_account": b.public_id}
    review = customer_client.post("/api/v1/transfers", {**body, "amount": "5000.00"}, format="json")
    assert review.status_code == 202
    rejected = customer_client.post(
        "/api/v1/transfers", {**body, "amount": "7000.01"}, format="json"
    )
    assert rejected.status_code == 422
    held = AuditLog.objects.get(action="money.transfer.pending")
    assert (held.actor, held.after["hold_reason"]) == (customer, "review")
    refusal = AuditLog.objects.get(action="risk.rejected")
    assert refusal.actor == customer
    assert refusal.after["rule"] == "cap"
