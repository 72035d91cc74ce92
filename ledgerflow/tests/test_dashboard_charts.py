"""The dashboard's charts: one aggregate query each (from the apps' selectors), drawn as inline
SVG; and the links an operator follows from the back office."""

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.factories import UserFactory
from ledger import services
from ledger.models import Transaction
from ledger.selectors import transfer_volume_by_hour
from ledgerflow.admin_site import BACKLOG_BOUNDS, ORDER_AGE_BOUNDS, dashboard_figures
from orders.models import Order
from orders.selectors import pending_order_ages
from orders.services import create_order, record_deposit
from webhooks.models import Delivery, Event, WebhookEndpoint
from webhooks.selectors import delivery_backlog

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _transfer(source, target, amount: str, *, hours_ago: float = 0) -> Transaction:
    txn = services.post_transfer(
        actor=source.owner,
        from_account_id=source.pk,
        to_account_id=target.pk,
        amount=Decimal(amount),
    )
    if hours_ago:  # time travel for the test: the service stamps "now"
        Transaction.objects.filter(pk=txn.pk).update(
            created_at=timezone.now() - timedelta(hours=hours_ago)
        )
    return txn


def _age(model, pk, **delta) -> None:
    model.objects.filter(pk=pk).update(created_at=timezone.now() - timedelta(**delta))


def test_volume_per_hour_is_one_query_per_asset_and_hour(
    customer, other_customer, funded, django_assert_num_queries
):
    usd, usd_to = funded(customer, "100.00"), funded(other_customer, "0")
    jpy, jpy_to = funded(customer, "5000", asset="JPY"), funded(other_customer, "0", asset="JPY")
    _transfer(usd, usd_to, "1.50")
    _transfer(usd, usd_to, "2.00")
    _transfer(usd, usd_to, "4.00", hours_ago=3)
    _transfer(usd, usd_to, "9.00", hours_ago=30)  # outside the window
    _transfer(jpy, jpy_to, "700")

    with django_assert_num_queries(1):
        rows = transfer_volume_by_hour(since=timezone.now() - timedelta(hours=24))

    summary = [(r["asset__code"], r["count"], r["volume"]) for r in rows]
    assert summary == [("JPY", 1, 700), ("USD", 1, 400), ("USD", 2, 350)]


def test_pending_order_ages_are_one_query(customer, funded, settings, django_assert_num_queries):
    settings.MAX_PENDING_ORDERS = 10
    account = funded(customer, "0")
    ages = {"minutes": 5}, {"hours": 2}, {"hours": 3}, {"hours": 30}
    for delta in ages:
        order = create_order(actor=customer, account_id=account.pk, amount=Decimal("1"))
        _age(Order, order.pk, **delta)
    review = create_order(actor=customer, account_id=account.pk, amount=Decimal("5"))
    record_deposit(
        actor=None, order_id=review.order_id, tx_hash="0x" + "1" * 64, amount=Decimal("4"),
        confirmations=9,
    )  # fmt: skip

    with django_assert_num_queries(1):
        row = pending_order_ages(now=timezone.now(), bounds=ORDER_AGE_BOUNDS)

    assert row["ages"] == [1, 2, 0, 1]
    assert row["count"] == 4
    assert row["in_review"] == 1


def test_delivery_backlog_is_one_query(django_assert_num_queries):
    endpoint = WebhookEndpoint.objects.create(owner=UserFactory(), url="https://example.com/h")
    ages = [{"seconds": 10}, {"minutes": 5}, {"minutes": 7}, {"hours": 2}, {"days": 3}]
    for status, delta in [("pending", d) for d in ages] + [("failed", {}), ("succeeded", {})]:
        delivery = Delivery.objects.create(
            event=Event.objects.create(type="transaction.posted", payload={}),
            endpoint=endpoint,
            status=status,
            next_attempt_at=timezone.now(),
        )
        _age(Delivery, delivery.pk, **delta)

    with django_assert_num_queries(1):
        row = delivery_backlog(
            now=timezone.now(), bounds=BACKLOG_BOUNDS, overdue_after=timedelta(minutes=1)
        )

    assert row["ages"] == [1, 2, 0, 1, 1]
    assert (row["pending"], row["failed"]) == (5, 1)


def test_figures_place_each_hour_in_its_bar(customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    _transfer(source, target, "1.00")
    _transfer(source, target, "3.00", hours_ago=5)

    [chart] = dashboard_figures().volume_charts

    heights = [bar.height for bar in chart.bars]
    assert len(heights) == 24
    assert heights[-1] > 0  # this hour
    assert heights[-6] == pytest.approx(3 * heights[-1], abs=0.05)  # five hours ago: 3x
    assert sum(1 for h in heights if h) == 2
    assert chart.caption == "USD"
    assert chart.max_label == "3.00 USD"
    assert "1 transfer, 1.00 USD" in chart.bars[-1].title


def test_index_draws_the_charts_as_inline_svg(admin_client, customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    _transfer(source, target, "2.00")
    create_order(actor=customer, account_id=target.pk, amount=Decimal("1"))

    page = admin_client.get("/admin/").content.decode()

    for chart in ("volume-USD", "order-ages", "webhook-backlog"):
        svg = re.search(rf'<svg class="bar-chart" id="chart-{chart}".*?</svg>', page, re.S)
        assert svg, chart
        assert 'role="img"' in svg.group(0)
    volume = re.search(r'id="chart-volume-USD".*?</svg>', page, re.S).group(0)
    assert volume.count("<rect") == 24
    assert "<title>" in volume
    assert "<script" not in page.split('id="ops-figures"')[1].split("</div>\n</div>")[0]


def test_index_with_no_data_says_so(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert "No transfers in the last 24 hours." in page
    assert "no pending orders" in page
    assert "nothing waiting" in page


def test_view_site_leads_to_the_api_docs(admin_client):
    page = admin_client.get("/admin/").content.decode()

    assert re.search(r'<a href="/api/docs/">View site</a>', page)
    assert admin_client.get("/api/docs/").status_code == 200


def test_account_page_links_its_transactions(admin_client, customer, other_customer, funded):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    txn = _transfer(source, target, "2.00")

    page = admin_client.get(f"/admin/accounts/account/{source.pk}/change/").content.decode()

    link = f'<a href="/admin/ledger/transaction/{txn.pk}/change/">{txn.public_id}</a>'
    assert link in page
    assert admin_client.get(f"/admin/ledger/transaction/{txn.pk}/change/").status_code == 200


def test_all_figures_are_seven_queries_from_the_selectors(
    customer, other_customer, funded, django_assert_num_queries
):
    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    _transfer(source, target, "2.00", hours_ago=2)
    create_order(actor=customer, account_id=target.pk, amount=Decimal("1"))

    # orders, holds, deliveries, balances, today's transfers, last verification, volume
    with django_assert_num_queries(7):
        figures = dashboard_figures()

    assert figures.pending_orders == 1
    assert figures.order_age_chart.total == 1
    assert [chart.caption for chart in figures.volume_charts] == ["USD"]
