"""seed_demo fills every panel of the dashboard, through the services, and only once."""

from io import StringIO

import pytest
from django.core.management import call_command

from accounts.models import Account, User
from ledger.models import BalanceMonitor, Entry, RiskRule, Transaction
from ledger.verification import verify_ledger
from ledgerflow.admin_site import dashboard_figures
from orders.models import Deposit, Order
from orders.services import cancel_order
from reporting.models import VerificationRun
from webhooks.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db


def _seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def _state():
    return {
        "users": User.objects.count(),
        "accounts": Account.objects.count(),
        "transactions": list(Transaction.objects.order_by("pk").values_list("pk", "status")),
        "entries": Entry.objects.count(),
        "orders": list(Order.objects.order_by("pk").values_list("pk", "status")),
        "deposits": Deposit.objects.count(),
        "rules": RiskRule.objects.count(),
        "monitors": BalanceMonitor.objects.count(),
        "endpoints": WebhookEndpoint.objects.count(),
        "events": Event.objects.count(),
        "deliveries": Delivery.objects.count(),
        "verifications": VerificationRun.objects.count(),
    }


def test_seed_demo_fills_every_dashboard_panel():
    output = _seed()

    assert "admin@ledgerflow.local" in output
    figures = dashboard_figures()
    assert figures.pending_orders == 2
    assert figures.holds_in_review == 1
    assert figures.deliveries_pending > 0  # the demo endpoint's backlog
    assert figures.verification_violations == 0
    assert {row.code for row in figures.balances} >= {"USD", "USDC"}
    assert all(row.balanced for row in figures.balances)
    assert {row.code for row in figures.transfers_today} == {"USD"}
    # A two-phase hold that is not a review, an active review rule, a monitor, an endpoint.
    assert Transaction.objects.filter(status="pending", hold_reason="").count() == 1
    assert RiskRule.objects.filter(action="review", is_active=True).count() == 1
    assert BalanceMonitor.objects.count() == 1
    assert WebhookEndpoint.objects.count() == 1
    # One order paid through the indexer feed, settled once.
    assert Deposit.objects.get().status == Deposit.Status.SETTLED
    assert Order.objects.filter(status="completed").count() == 1
    assert verify_ledger().ok


def test_seed_demo_twice_duplicates_nothing():
    _seed()
    first = _state()

    _seed()

    assert _state() == first


def test_seed_demo_tops_up_what_an_operator_used():
    _seed()
    cancel_order(actor=None, order_pk=Order.objects.filter(status="pending").first().pk)

    _seed()

    assert Order.objects.filter(status="pending").count() == 2
    assert Order.objects.filter(status="cancelled").count() == 1
    assert VerificationRun.objects.count() == 2  # something changed: verified again


def test_seed_demo_on_an_older_demo_database_adds_the_new_panels():
    """A database seeded before these panels existed (history only) gets them on the next run."""
    _seed()
    for model in (RiskRule, BalanceMonitor, WebhookEndpoint, VerificationRun):
        model.objects.all().delete()

    _seed()

    assert RiskRule.objects.count() == BalanceMonitor.objects.count() == 1
    assert WebhookEndpoint.objects.count() == VerificationRun.objects.count() == 1
