"""The hot path's round trips, counted (issue 15): a single transfer request, idempotency key
included, makes at most six statements on PostgreSQL — BEGIN and COMMIT included — however
many risk rules, monitors and webhook endpoints are configured, once they are cached."""

import uuid

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Asset
from ledger import config
from ledger.models import BalanceMonitor, RiskRule
from webhooks.services import create_endpoint

# Committed transactions: the real BEGIN and COMMIT are counted (not a test's savepoints).
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

MAX_ROUND_TRIPS = 5  # the issue asks for 6; the user row is not read (stateless JWT)


def _transfer(client, source, target, amount="1.00"):
    return client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": target.public_id, "amount": amount},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


def _count(client, source, target) -> list[str]:
    with CaptureQueriesContext(connection) as captured:
        response = _transfer(client, source, target)
    assert response.status_code == 201, response.json()
    return [q["sql"] for q in captured.captured_queries]


def test_a_transfer_request_makes_at_most_five_round_trips(
    customer_client, customer, other_customer, funded
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    _transfer(customer_client, source, target)  # warm the configuration cache
    statements = _count(customer_client, source, target)
    assert len(statements) <= MAX_ROUND_TRIPS, "\n".join(statements)
    assert [s for s in statements if s in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    assert not [s for s in statements if "SAVEPOINT" in s], "no nested savepoints"


def test_configuration_costs_no_round_trip_once_cached(
    customer_client, customer, other_customer, funded, settings
):
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    usd = Asset.objects.get(code="USD")
    RiskRule.objects.create(name="cap", kind=RiskRule.Kind.MAX_AMOUNT, limit=10**9, asset=usd)
    BalanceMonitor.objects.create(account=source, threshold=1, direction="below")
    create_endpoint(actor=other_customer, url="http://127.0.0.1:9/hook")
    _transfer(customer_client, source, target)  # reload after the changes
    statements = _count(customer_client, source, target)
    # + the Delivery insert for the payee's endpoint; still no configuration read.
    assert len(statements) <= MAX_ROUND_TRIPS + 1, "\n".join(statements)
    assert not [s for s in statements if "ledger_riskrule" in s.split(" WHERE ")[0]]


def test_a_rule_saved_is_in_force_for_the_very_next_transfer(
    customer_client, customer, other_customer, funded
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    assert _transfer(customer_client, source, target, "5.00").status_code == 201
    RiskRule.objects.create(
        name="cap 4", kind=RiskRule.Kind.MAX_AMOUNT, limit=400, asset=Asset.objects.get(code="USD")
    )
    refused = _transfer(customer_client, source, target, "5.00")
    assert refused.status_code == 422
    assert refused.json()["code"] == "limit_exceeded"
    RiskRule.objects.all().update(is_active=False)
    assert _transfer(customer_client, source, target, "5.00").status_code == 201


def test_the_version_changes_with_every_configuration_change(customer, staff):
    def version():
        from ledger.models import ConfigVersion

        return ConfigVersion.objects.get(pk=1).version

    seen = [version()]
    usd = Asset.objects.get(code="USD")
    rule = RiskRule.objects.create(name="r", kind="max_amount", limit=1, asset=usd)
    seen.append(version())
    rule.delete()
    seen.append(version())
    customer.is_staff = True
    customer.save()
    seen.append(version())
    customer.last_login = None  # not a flag: no change of version
    customer.save(update_fields=["last_login"])
    seen.append(version())
    assert len(set(seen[:4])) == 4
    assert seen[4] == seen[3]
    assert config.config_at(seen[3]) is config.config_at(seen[3])  # cached
