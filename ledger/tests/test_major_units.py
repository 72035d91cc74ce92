"""Amounts people read and type are major units with the asset code: admin forms and columns,
and every error `detail` (codes and numeric fields unchanged)."""

import pytest
from django.urls import reverse

from accounts.models import Account, Asset
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from ledger.models import BalanceMonitor, RiskRule, Transaction

pytestmark = pytest.mark.django_db


@pytest.fixture
def operator(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def rule_form(**fields):
    usd = Asset.objects.get(code="USD")
    return {
        "name": "cap",
        "kind": RiskRule.Kind.MAX_AMOUNT,
        "action": RiskRule.Action.REJECT,
        "asset": usd.pk,
        "account": "",
        "user": "",
        "is_active": "on",
        **fields,
    }


# --- risk rules --------------------------------------------------------------------------


def test_risk_rule_limit_is_typed_and_shown_in_major_units(operator):
    response = operator.post(reverse("admin:ledger_riskrule_add"), rule_form(limit="12.50"))
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RiskRule.objects.get(name="cap")
    assert rule.limit == 1250  # stored in minor units
    assert AuditLog.objects.get(action="riskrule.add").after["limit"] == 1250

    changelist = operator.get(reverse("admin:ledger_riskrule_changelist")).content.decode()
    assert "12.50 USD" in changelist
    assert ">1250<" not in changelist
    change = operator.get(reverse("admin:ledger_riskrule_change", args=[rule.pk]))
    assert change.context["adminform"].form["limit"].value() == "12.50"
    assert "cap (Maximum single transfer amount 12.50 USD, reject)" in change.content.decode()

    # Saved again unchanged: still 1250 (the form shows major units and reads them back).
    response = operator.post(
        reverse("admin:ledger_riskrule_change", args=[rule.pk]),
        rule_form(limit=change.context["adminform"].form["limit"].value()),
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.limit == 1250


def test_risk_rule_of_an_asset_with_six_decimals_and_a_zero_limit(operator):
    usdc = Asset.objects.get(code="USDC")
    operator.post(
        reverse("admin:ledger_riskrule_add"),
        rule_form(asset=usdc.pk, limit="0.000001", name="tiny"),
    )
    operator.post(reverse("admin:ledger_riskrule_add"), rule_form(limit="0", name="frozen"))
    assert RiskRule.objects.get(name="tiny").limit == 1
    assert RiskRule.objects.get(name="frozen").limit == 0
    changelist = operator.get(reverse("admin:ledger_riskrule_changelist")).content.decode()
    assert "0.000001 USDC" in changelist
    assert "0.00 USD" in changelist


def test_transfers_per_minute_is_a_count(operator):
    form = rule_form(kind=RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE, limit="10", name="burst")
    assert operator.post(reverse("admin:ledger_riskrule_add"), form).status_code == 302
    assert RiskRule.objects.get(name="burst").limit == 10
    changelist = operator.get(reverse("admin:ledger_riskrule_changelist")).content.decode()
    assert "10 per minute" in changelist

    form = rule_form(kind=RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE, limit="2.5", name="half")
    response = operator.post(reverse("admin:ledger_riskrule_add"), form)
    assert "A whole number of transfers" in str(response.context["adminform"].form.errors)
    assert not RiskRule.objects.filter(name="half").exists()


@pytest.mark.parametrize(
    ("limit", "message"),
    [
        ("12.505", "At most 2 decimal places"),
        ("1e3", "Not a decimal number"),
        ("-1.00", "greater than zero"),
        ("twelve", "Not a decimal number"),
    ],
)
def test_bad_limits_are_refused_and_store_nothing(operator, limit, message):
    response = operator.post(reverse("admin:ledger_riskrule_add"), rule_form(limit=limit))
    assert response.status_code == 200
    assert message in str(response.context["adminform"].form.errors["limit"])
    assert not RiskRule.objects.exists()
    assert not AuditLog.objects.filter(action="riskrule.add").exists()


def test_a_rule_on_an_account_of_another_asset_is_refused(operator, customer, funded):
    eur = funded(customer, "0", asset="EUR")
    response = operator.post(
        reverse("admin:ledger_riskrule_add"), rule_form(limit="5.00", account=eur.pk)
    )
    assert "holds EUR, not USD" in str(response.context["adminform"].form.errors["account"])
    assert not RiskRule.objects.exists()


# --- balance monitors --------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "stored"), [("12.50", 1250), ("0", 0), ("-5.25", -525)])
def test_monitor_threshold_round_trip(operator, customer, funded, typed, stored):
    account = funded(customer, "0")
    form = {"account": account.pk, "direction": "below", "threshold": typed, "is_active": "on"}
    response = operator.post(reverse("admin:ledger_balancemonitor_add"), form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    monitor = BalanceMonitor.objects.get(account=account)
    assert monitor.threshold == stored

    shown = {1250: "12.50 USD", 0: "0.00 USD", -525: "-5.25 USD"}[stored]
    changelist = operator.get(reverse("admin:ledger_balancemonitor_changelist")).content.decode()
    assert shown in changelist
    change = operator.get(reverse("admin:ledger_balancemonitor_change", args=[monitor.pk]))
    assert change.context["adminform"].form["threshold"].value() == shown.split()[0]


def test_monitor_threshold_with_too_many_decimals_is_refused(operator, customer, funded):
    account = funded(customer, "0")
    form = {"account": account.pk, "direction": "above", "threshold": "1.001", "is_active": "on"}
    response = operator.post(reverse("admin:ledger_balancemonitor_add"), form)
    assert "At most 2 decimal places" in str(response.context["adminform"].form.errors)
    assert not BalanceMonitor.objects.exists()


# --- other admin columns -----------------------------------------------------------------


def test_account_and_hold_columns_carry_the_asset_code(
    operator, customer, other_customer, funded, customer_client
):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    body = {"from_account": a.public_id, "to_account": b.public_id, "amount": "20.00"}
    hold = customer_client.post("/api/v1/transfers", {**body, "pending": True}, format="json")
    assert hold.status_code == 201

    changelist = operator.get(reverse("admin:accounts_account_changelist")).content.decode()
    assert "50.00 USD" in changelist  # balance
    assert "30.00 USD" in changelist  # available
    page = operator.get(reverse("admin:accounts_account_change", args=[a.pk])).content.decode()
    assert "20.00 USD" in page  # pending debits
    txn = Transaction.objects.get(public_id=hold.json()["id"])
    page = operator.get(reverse("admin:ledger_transaction_change", args=[txn.pk])).content
    assert "20.00 USD" in page.decode()
    assert ">2000<" not in page.decode()


# --- error details -----------------------------------------------------------------------


def transfer(client, source, target, amount):
    body = {"from_account": source.public_id, "to_account": target.public_id, "amount": amount}
    return client.post("/api/v1/transfers", body, format="json")


def test_insufficient_funds_detail_is_in_major_units(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "0"), funded(other_customer, "0")
    response = transfer(customer_client, a, b, "25.00")
    body = response.json()
    assert response.status_code == 409
    assert body["code"] == "insufficient_funds"  # the contract is unchanged
    assert body["account"] == a.public_id
    assert body["detail"] == f"Account {a.public_id} has 0.00 USD available, needs 25.00 USD."
    assert "minor" not in body["detail"]


def test_risk_rule_detail_names_the_limit_in_major_units(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    usd = Asset.objects.get(code="USD")
    RiskRule.objects.create(name="cap", kind=RiskRule.Kind.MAX_AMOUNT, asset=usd, limit=1250)
    response = transfer(customer_client, a, b, "12.51")
    body = response.json()
    assert (response.status_code, body["code"], body["rule"]) == (422, "limit_exceeded", "cap")
    assert body["detail"] == (
        "Risk rule 'cap' refused this movement (Maximum single transfer amount: 12.50 USD)."
    )

    RiskRule.objects.all().delete()
    RiskRule.objects.create(
        name="burst", kind=RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE, asset=usd, limit=0
    )
    body = transfer(customer_client, a, b, "1.00").json()
    assert body["detail"].endswith("(Maximum transfers per minute: 0 transfers).")


def test_max_balance_detail_names_the_ceiling(customer_client, customer, other_customer, funded):
    a, b = funded(customer, "100.00"), funded(other_customer, "0")
    Account.objects.filter(pk=b.pk).update(max_balance=1000)
    body = transfer(customer_client, a, b, "10.01").json()
    assert body["code"] == "limit_exceeded"
    assert body["detail"] == (
        f"Account {b.public_id} would exceed its maximum balance of 10.00 USD."
    )


def test_posting_more_than_held_detail_shows_both_amounts(
    customer_client, customer, other_customer, funded
):
    a, b = funded(customer, "50.00"), funded(other_customer, "0")
    body = {"from_account": a.public_id, "to_account": b.public_id, "amount": "25.00"}
    hold = customer_client.post("/api/v1/transfers", {**body, "pending": True}, format="json")
    response = customer_client.post(
        f"/api/v1/transactions/{hold.json()['id']}/post", {"amount": "30.00"}, format="json"
    )
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["errors"] == {"amount": ["At most the held amount."]}
    assert body["detail"] == "Cannot post 30.00 USD: the hold is 25.00 USD."
