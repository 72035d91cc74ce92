"""Refusals worth an audit row are audited by the service layer, after the rollback."""

import logging

import pytest

from accounts.models import Asset
from audit import services as audit_services
from audit.models import AuditLog
from ledger.models import RiskRule

pytestmark = pytest.mark.django_db


@pytest.fixture
def capped(customer, other_customer, funded):
    a, b = funded(customer, "10000.00"), funded(other_customer, "0")
    usd = Asset.objects.get(code="USD")
    RiskRule.objects.create(name="cap", kind=RiskRule.Kind.MAX_AMOUNT, limit=700000, asset=usd)
    return {"from_account": a.public_id, "to_account": b.public_id, "amount": "7000.01"}


def test_a_refusal_inside_the_idempotency_unit_is_audited_once(customer_client, customer, capped):
    response = customer_client.post(
        "/api/v1/transfers", capped, format="json", HTTP_IDEMPOTENCY_KEY="cap-1"
    )

    assert response.status_code == 422
    (row,) = AuditLog.objects.filter(action="risk.rejected")
    assert row.actor == customer
    assert (row.after["code"], row.after["rule"]) == ("limit_exceeded", "cap")


def test_an_audit_write_that_fails_is_logged_and_the_refusal_still_answers(
    customer_client, capped, monkeypatch, caplog
):
    def broken(*args, **kwargs):
        raise RuntimeError("audit table unavailable")

    monkeypatch.setattr(audit_services, "record_audit", broken)
    with caplog.at_level(logging.ERROR, logger="audit"):
        response = customer_client.post("/api/v1/transfers", capped, format="json")

    assert response.status_code == 422
    assert response.json()["code"] == "limit_exceeded"
    assert not AuditLog.objects.filter(action="risk.rejected").exists()
    assert "could not audit the refusal risk.rejected" in caplog.text


def test_a_refusal_without_an_audit_action_writes_no_row(customer_client, customer, funded):
    a = funded(customer, "1.00")
    AuditLog.objects.all().delete()
    response = customer_client.post(
        "/api/v1/withdrawals", {"account": a.public_id, "amount": "5.00"}, format="json"
    )

    assert response.status_code == 409
    assert not AuditLog.objects.exists()
