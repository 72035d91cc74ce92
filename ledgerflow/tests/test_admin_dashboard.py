"""The admin index as the operator dashboard: its figures, and that they cost a fixed number
of queries however much data there is."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.tests.factories import UserFactory
from ledger import services
from ledger.models import RiskRule, Transaction
from ledgerflow.admin_site import dashboard_figures
from orders.services import create_order
from reporting.models import VerificationRun
from webhooks.models import Delivery, Event, WebhookEndpoint

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def make_activity(customer, other_customer, funded, *, scale=1):
    """Orders, a review hold, transfers, deliveries in each state: `scale` of each."""
    source, target = funded(customer, "1000.00"), funded(other_customer, "5.00")
    RiskRule.objects.get_or_create(
        name="review",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action=RiskRule.Action.REVIEW,
        asset=source.asset,
        limit=50000,
    )
    # An endpoint of a bystander: the transfers' own events never reach it.
    endpoint = WebhookEndpoint.objects.create(owner=UserFactory(), url="https://example.com/hook")
    for _ in range(scale):
        create_order(actor=customer, account_id=target.pk, amount=Decimal("3.00"))
        for amount in ("1.50", "2.50", "600.00" if scale == 1 else "1.00"):
            services.post_transfer(
                actor=customer,
                from_account_id=source.pk,
                to_account_id=target.pk,
                amount=Decimal(amount),
            )
        for status in ("failed", "pending", "succeeded"):
            Delivery.objects.create(
                event=Event.objects.create(type="transaction.posted", payload={}),
                endpoint=endpoint,
                status=status,
                next_attempt_at=timezone.now() - timedelta(minutes=5),
            )
    return source, target


def test_figures(customer, other_customer, funded, settings):
    settings.MAX_PENDING_ORDERS = 10
    make_activity(customer, other_customer, funded)
    VerificationRun.objects.create(checked_at=timezone.now(), violation_count=0)

    figures = dashboard_figures()

    assert figures.pending_orders == 1
    assert figures.oldest_pending_order_age is not None
    assert figures.pending_orders_url == "/admin/orders/order/?status__exact=pending"
    assert figures.holds_in_review == 1
    assert figures.holds_url == "/admin/ledger/holdunderreview/"
    [usd] = figures.balances
    # Customers hold 1005.00 of which 600.00 is held for review; the world account paid it in.
    assert (usd.code, usd.customer, usd.customer_held, usd.system) == (
        "USD",
        "1005.00",
        "600.00",
        "-1005.00",
    )
    assert usd.balanced
    [transfers] = figures.transfers_today
    assert (transfers.code, transfers.count, transfers.volume) == ("USD", 2, "4.00")
    assert (figures.deliveries_failed, figures.deliveries_pending) == (1, 1)
    assert figures.deliveries_overdue == 1
    assert figures.verification_violations == 0


def test_index_page_shows_the_figures(admin_client, customer, other_customer, funded):
    make_activity(customer, other_customer, funded)
    VerificationRun.objects.create(checked_at=timezone.now(), violation_count=2)

    page = admin_client.get("/admin/").content.decode()

    assert 'id="ops-figures"' in page
    assert 'href="/admin/orders/order/?status__exact=pending">1</a>' in page
    assert "1005.00" in page
    assert "-1005.00" in page
    assert "2 violations" in page
    assert "Dashboard" in page
    assert "/admin/ledger/holdunderreview/" in page
    assert "/admin/webhooks/delivery/?status__exact=failed" in page


def test_index_without_any_data_or_verification(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "never run" in page
    assert "No transfers yet today." in page


def test_today_ignores_earlier_days_and_other_kinds(customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    txn = services.post_transfer(
        actor=customer, from_account_id=source.pk, to_account_id=target.pk, amount=Decimal("1")
    )
    Transaction.objects.filter(pk=txn.pk).update(created_at=timezone.now() - timedelta(days=1))

    assert dashboard_figures().transfers_today == []


def index_queries(client) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/")
    assert response.status_code == 200
    return len(queries)


def test_index_costs_a_fixed_number_of_queries(
    admin_client, customer, other_customer, funded, settings, django_assert_max_num_queries
):
    settings.MAX_PENDING_ORDERS = 100
    VerificationRun.objects.create(checked_at=timezone.now(), violation_count=0)
    make_activity(customer, other_customer, funded, scale=1)
    small = index_queries(admin_client)
    make_activity(UserFactory(), UserFactory(), funded, scale=12)

    # session + user, seven figure queries, the "recent actions" box
    with django_assert_max_num_queries(10):
        large = index_queries(admin_client)
    assert large == small


def test_every_dashboard_link_opens(admin_client, customer, other_customer, funded):
    make_activity(customer, other_customer, funded)
    figures = dashboard_figures()
    links = [
        figures.pending_orders_url,
        figures.holds_url,
        figures.deliveries_failed_url,
        figures.deliveries_pending_url,
        figures.verification_url,
        figures.transfers_url,
    ]

    for url in links:
        response = admin_client.get(url)
        assert response.status_code == 200, url  # an invalid filter would redirect to ?e=1
    today = admin_client.get(figures.transfers_url)
    assert today.context["cl"].result_count == 2
