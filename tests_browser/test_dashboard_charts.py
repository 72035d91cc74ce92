"""The dashboard's charts in a real browser: each server-rendered SVG is drawn, with its bars.

SAVE_SCREENSHOTS=1 rewrites docs/dashboard.png (the whole dashboard, charts included) from
this scenario.
"""

import os
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from tests_browser import test_back_office as back_office

# The module's browser fixtures, shared (a fixture is found by its name in this module).
browser = back_office.browser
operator_browser = back_office.operator_browser

pytestmark = back_office.pytestmark


def spread_over_the_day(alice, bob) -> None:
    """Transfers at several hours of the last day, so the volume chart has a shape."""
    from ledger import services
    from ledger.models import Transaction

    for hours_ago, amount in ((22, "40.00"), (17, "65.00"), (9, "12.50"), (6, "88.00"), (2, "30")):
        txn = services.post_transfer(
            actor=alice.owner,
            from_account_id=alice.pk,
            to_account_id=bob.pk,
            amount=Decimal(amount),
        )
        # The service stamps "now"; the test moves the row back in time.
        Transaction.objects.filter(pk=txn.pk).update(
            created_at=timezone.now() - timedelta(hours=hours_ago)
        )


def test_dashboard_draws_its_charts(operator_browser, settings):
    from selenium.webdriver.common.by import By

    alice, bob = back_office.make_a_busy_day(settings)
    spread_over_the_day(alice, bob)
    browser = operator_browser
    browser.set_window_size(1280, 1500)
    browser.get(f"{browser.base_url}/admin/")

    for chart_id in ("chart-volume-USD", "chart-order-ages", "chart-webhook-backlog"):
        svg = browser.find_element(By.ID, chart_id)
        assert svg.size["width"] > 200, chart_id  # laid out across its card
        assert svg.size["height"] > 40, chart_id
    # The bars are really drawn: their rendered boxes have height where there is data.
    drawn = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chart-volume-USD rect.bar'))"
        ".map(r => r.getBoundingClientRect().height)"
    )
    assert len(drawn) == 24
    assert sum(1 for height in drawn if height > 0) == 6  # five earlier hours and this one
    ages = browser.execute_script(
        "return Array.from(document.querySelectorAll('#chart-order-ages rect.bar'))"
        ".map(r => r.getBoundingClientRect().height > 0)"
    )
    assert ages == [False, True, False, False]  # both orders are 1–6 h old
    backlog = browser.find_element(By.ID, "fig-backlog").text
    assert "1 waiting" in backlog
    assert "1 failed" in backlog
    fill = browser.execute_script(
        "return getComputedStyle(document.querySelector('#chart-volume-USD rect.bar')).fill"
    )
    assert fill not in ("", "none", "rgb(0, 0, 0)")  # the dashboard's stylesheet applied
    # No chart needs a script: the page carries only the admin's own.
    sources = browser.execute_script(
        "return Array.from(document.scripts).map(s => s.src).filter(s => s)"
    )
    assert all(src.startswith(browser.base_url) for src in sources), sources
    if os.environ.get("SAVE_SCREENSHOTS") == "1":
        # The figures and the top of the app list below them.
        bottom = browser.execute_script(
            "return document.getElementById('ops-figures').getBoundingClientRect().bottom"
        )
        browser.set_window_size(1280, int(bottom) + 260)
        browser.save_screenshot(str(back_office.SCREENSHOT))
    browser.set_window_size(1280, 900)
