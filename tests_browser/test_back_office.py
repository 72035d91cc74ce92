"""The back office in a real browser: headless Chromium driven by Selenium against the live
server. SAVE_SCREENSHOTS=1 rewrites docs/dashboard.png (in test_dashboard_charts.py)."""

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.tests.factories import TEST_PASSWORD, AccountFactory, UserFactory

CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path(__file__).resolve().parent.parent / "docs" / "dashboard.png"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMEDRIVER.exists(), reason="needs /usr/bin/chromedriver"),
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1280,900",
    ):
        options.add_argument(argument)
    if CHROMIUM.exists():
        options.binary_location = str(CHROMIUM)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


@pytest.fixture
def operator_browser(browser, live_server):
    """The browser, logged in through the admin login form as a fresh superuser."""
    from selenium.webdriver.common.by import By

    user = UserFactory(email="ops@ledgerflow.example", is_staff=True, is_superuser=True)
    browser.delete_all_cookies()
    browser.get(f"{live_server.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys(user.email)
    browser.find_element(By.NAME, "password").send_keys(TEST_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    browser.find_element(By.ID, "ops-figures")
    browser.base_url = live_server.url
    browser.user = user
    return browser


def run_action(browser, row_pk: int, action: str, **fields: str) -> str:
    """Tick one row of the open changelist, choose `action`, fill `fields`, press Go."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.find_element(By.CSS_SELECTOR, f"input.action-select[value='{row_pk}']").click()
    Select(browser.find_element(By.NAME, "action")).select_by_value(action)
    for name, value in fields.items():
        browser.find_element(By.NAME, name).send_keys(value)
    browser.find_element(By.CSS_SELECTOR, "button[name=index]").click()
    return browser.find_element(By.CSS_SELECTOR, "ul.messagelist").text.lower()  # capfirst


def make_a_busy_day(settings):
    """A little of everything the dashboard shows."""
    from ledger import services
    from ledger.models import RiskRule
    from orders.models import Order
    from orders.services import create_order
    from reporting.models import VerificationRun
    from webhooks.models import Delivery, Event, WebhookEndpoint

    settings.MAX_PENDING_ORDERS = 10
    staff = UserFactory(is_staff=True)
    alice = AccountFactory(owner=UserFactory(email="alice@example.com"), asset__code="USD")
    bob = AccountFactory(owner=UserFactory(email="bob@example.com"), asset__code="USD")
    euro = AccountFactory(
        owner=alice.owner, asset__code="EUR", asset__name="Euro", asset__exponent=2
    )
    services.post_deposit(actor=staff, account_id=alice.pk, amount=Decimal("12500.00"))
    services.post_deposit(actor=staff, account_id=bob.pk, amount=Decimal("830.25"))
    services.post_deposit(actor=staff, account_id=euro.pk, amount=Decimal("4200.00"))
    for amount in ("120.00", "75.50", "19.99"):
        services.post_transfer(
            actor=alice.owner,
            from_account_id=alice.pk,
            to_account_id=bob.pk,
            amount=Decimal(amount),
        )
    RiskRule.objects.create(
        name="review over 5,000",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action=RiskRule.Action.REVIEW,
        asset=alice.asset,
        limit=500000,
    )
    services.post_transfer(
        actor=alice.owner, from_account_id=alice.pk, to_account_id=bob.pk, amount=Decimal("6000")
    )
    for amount, hours in (("25.00", 3), ("300.00", 1)):
        order = create_order(actor=bob.owner, account_id=bob.pk, amount=Decimal(amount))
        Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(hours=hours))
    endpoint = WebhookEndpoint.objects.create(owner=UserFactory(), url="https://example.com/h")
    for status in ("failed", "pending", "succeeded"):
        Delivery.objects.create(
            endpoint=endpoint,
            status=status,
            event=Event.objects.create(type="transaction.posted", payload={}),
        )
    VerificationRun.objects.create(
        checked_at=timezone.now() - timedelta(minutes=7), violation_count=0
    )
    return alice, bob


def test_dashboard_shows_the_operator_figures(operator_browser, settings):
    from selenium.webdriver.common.by import By

    make_a_busy_day(settings)
    browser = operator_browser
    browser.get(f"{browser.base_url}/admin/")

    figures = browser.find_element(By.ID, "ops-figures").text
    pending = browser.find_element(By.CSS_SELECTOR, "#fig-pending-orders .figure").text
    assert pending == "2"
    assert browser.find_element(By.CSS_SELECTOR, "#fig-holds .figure").text == "1"
    assert "OK" in browser.find_element(By.ID, "fig-verification").text
    assert "13330.25" in figures  # USD held by customers
    assert "215.49" in figures  # today's transfer volume (the review hold is not posted)
    # The admin's own stylesheet loaded (static files are served by the live server).
    background = browser.find_element(By.ID, "header").value_of_css_property("background-color")
    assert background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert "1 failed" in browser.find_element(By.ID, "fig-webhooks").text


def test_complete_a_pending_order_from_the_queue(operator_browser, settings):
    from selenium.webdriver.common.by import By

    from orders.models import Order

    _, bob = make_a_busy_day(settings)
    order = Order.objects.filter(account=bob).order_by("pk").first()
    browser = operator_browser
    browser.get(f"{browser.base_url}/admin/")
    browser.find_element(By.CSS_SELECTOR, "#fig-pending-orders .figure a").click()
    assert order.order_id in browser.find_element(By.ID, "result_list").text
    tx_hash = "0x" + "d" * 64

    message = run_action(browser, order.pk, "complete_selected", tx_hash=tx_hash)

    assert f"{order.order_id}: completed." in message
    assert order.order_id not in browser.find_element(By.ID, "changelist").text  # left the queue
    browser.get(f"{browser.base_url}/admin/accounts/account/{bob.pk}/change/")
    balance = browser.find_element(By.CSS_SELECTOR, ".field-balance_display .readonly").text
    assert balance == "1070.74 USD"  # 830.25 + 215.49 of transfers + the 25.00 order


def test_reverse_a_transaction(operator_browser, settings):
    from selenium.webdriver.common.by import By

    from ledger.models import Transaction

    _, bob = make_a_busy_day(settings)
    transfer = Transaction.objects.filter(kind="transfer", status="posted").order_by("pk").first()
    browser = operator_browser
    browser.get(f"{browser.base_url}/admin/ledger/transaction/?kind__exact=transfer")

    message = run_action(browser, transfer.pk, "reverse_selected", reason="sent twice")

    assert f"{transfer.public_id}: reversed." in message
    reversal = Transaction.objects.get(reverses=transfer)
    assert reversal.created_by == browser.user
    browser.get(f"{browser.base_url}/admin/ledger/transaction/{reversal.pk}/change/")
    page = browser.find_element(By.ID, "content").text
    assert "reversal of " + transfer.public_id in page
    assert "-120.00 USD" in page  # bob gives the 120.00 back
    bob.refresh_from_db()
    assert bob.balance == 83025 + 21549 - 12000
