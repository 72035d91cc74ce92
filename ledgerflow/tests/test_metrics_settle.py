"""Business counters count an outcome once: an attempt retried on contention counts nothing.

ledgerflow.metrics holds what an attempt of a unit of work counts until the attempt settles
(ledgerflow.db.retry_on_contention); see the module docstring.
"""

from decimal import Decimal

import pytest
from django.db import OperationalError
from prometheus_client import REGISTRY

from ledger import services
from ledger.errors import InsufficientFunds
from ledger.models import RiskRule
from ledger.services.books import Books
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0


def test_a_refusal_after_a_retried_attempt_is_counted_once(settings):
    settings.CONTENTION_RETRIES = 3
    attempts = []

    @retry_on_contention
    def unit():
        attempts.append(1)
        metrics.INSUFFICIENT_FUNDS.inc()
        if len(attempts) == 1:
            raise OperationalError("database is locked")  # contention: the unit runs again
        raise InsufficientFunds("Not enough.")

    before = sample("ledgerflow_insufficient_funds_total")
    with pytest.raises(InsufficientFunds):
        unit()

    assert len(attempts) == 2
    assert sample("ledgerflow_insufficient_funds_total") == before + 1


def test_counts_wait_for_the_attempt_and_a_dropped_attempt_counts_nothing():
    before = sample("ledgerflow_holds_total", outcome="posted")
    with metrics.attempt_counts() as counts:
        metrics.HOLDS.labels(outcome="posted").inc()
        assert sample("ledgerflow_holds_total", outcome="posted") == before  # held
        counts.drop()
    assert sample("ledgerflow_holds_total", outcome="posted") == before

    with metrics.attempt_counts():
        metrics.HOLDS.labels(outcome="posted").inc()
        with metrics.attempt_counts():  # nested: joins the outer attempt
            metrics.HOLDS.labels(outcome="posted").inc()
        assert sample("ledgerflow_holds_total", outcome="posted") == before
    assert sample("ledgerflow_holds_total", outcome="posted") == before + 2

    metrics.HOLDS.labels(outcome="posted").inc()  # outside any attempt: counted at once
    assert sample("ledgerflow_holds_total", outcome="posted") == before + 3


@pytest.fixture
def contend_once(monkeypatch):
    """Arm it, and the next Books.write hits contention once; returns the writes seen."""
    write, calls = Books.write, []

    def flaky(self):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return write(self)

    def arm() -> list:
        monkeypatch.setattr(Books, "write", flaky)
        return calls

    return arm


@pytest.fixture
def accounts_with_rule(customer, other_customer, funded):
    from accounts.models import Asset

    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    RiskRule.objects.create(
        name="max",
        kind=RiskRule.Kind.MAX_AMOUNT,
        limit=100_000,
        asset=Asset.objects.get(code="USD"),
    )
    return a, b


def outcome_counts():
    return (
        sample("ledgerflow_risk_decisions_total", rule_kind="max_amount", decision="pass"),
        sample("ledgerflow_transfers_total", kind="transfer", outcome="posted"),
        sample("ledgerflow_transfer_volume_minor_total", asset="USD"),
    )


@pytest.mark.django_db(transaction=True)
def test_a_transfer_retried_on_contention_is_counted_once(
    customer, accounts_with_rule, contend_once
):
    a, b = accounts_with_rule
    risk, posted, volume = outcome_counts()
    writes = contend_once()

    services.post_transfer(
        actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("2.50")
    )

    assert len(writes) == 2  # the first attempt was rolled back and retried
    assert outcome_counts() == (risk + 1, posted + 1, volume + 250)


@pytest.mark.django_db(transaction=True)
def test_an_idempotent_request_retried_on_contention_is_counted_once(
    customer_client, accounts_with_rule, contend_once
):
    a, b = accounts_with_rule
    risk, posted, volume = outcome_counts()
    writes = contend_once()
    body = {"from_account": a.public_id, "to_account": b.public_id, "amount": "2.50"}

    response = customer_client.post(
        "/api/v1/transfers", body, format="json", HTTP_IDEMPOTENCY_KEY="settle-1"
    )

    assert response.status_code == 201, response.json()
    assert len(writes) == 2
    assert outcome_counts() == (risk + 1, posted + 1, volume + 250)
