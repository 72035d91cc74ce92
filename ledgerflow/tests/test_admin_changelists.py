"""Changelists stay fast on big tables: the same number of queries for 3 rows as for 30 (no
N+1), and no COUNT(*) of an unfiltered big table on PostgreSQL."""

from decimal import Decimal
from itertools import count

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Asset
from accounts.services import create_api_key
from accounts.tests.factories import AccountFactory, UserFactory
from audit.services import record_audit
from ledger import services
from ledger.models import BalanceMonitor, Entry, IdempotencyKey, RiskRule
from ledger.services import adjustments
from ledgerflow.admin_site import EstimatedCountPaginator, estimated_row_count
from orders.services import create_order
from reporting import services as reporting
from reporting.models import Export, VerificationRun

pytestmark = pytest.mark.django_db
serial = count()


def funded_account(staff, amount="10.00"):
    account = AccountFactory(owner=UserFactory())
    services.post_deposit(actor=staff, account_id=account.pk, amount=Decimal(amount))
    return account


def deposits(staff, n):  # transactions, entries, accounts, snapshots
    for _ in range(n):
        funded_account(UserFactory(is_staff=True))
    reporting.take_snapshots()


def orders(staff, n):
    for _ in range(n):
        account = AccountFactory(owner=UserFactory())
        create_order(actor=account.owner, account_id=account.pk, amount=Decimal("1.00"))


def review_holds(staff, n):
    source = funded_account(staff, "1000.00")
    RiskRule.objects.get_or_create(
        name="review",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action=RiskRule.Action.REVIEW,
        asset=source.asset,
        limit=0,
    )
    for _ in range(n):
        target = AccountFactory(owner=UserFactory())
        services.post_transfer(
            actor=UserFactory(),
            from_account_id=source.pk,
            to_account_id=target.pk,
            amount=Decimal(1),
        )


def adjustment_requests(staff, n):
    for _ in range(n):
        adjustments.propose_adjustment(
            actor=UserFactory(is_staff=True, is_superuser=True),
            account_id=AccountFactory(owner=UserFactory()).pk,
            amount=Decimal("1.00"),
            direction="credit",
            reason="test",
        )


def audit_rows(staff, n):
    for _ in range(n):
        user = UserFactory()
        record_audit(user, "user.change", user, None, None)


def risk_rules(staff, n):
    usd = Asset.objects.get(code="USD")
    for _ in range(n):
        account = AccountFactory(owner=UserFactory())
        RiskRule.objects.create(
            name=f"r{next(serial)}", kind="max_amount", asset=usd, account=account, limit=1
        )
        BalanceMonitor.objects.create(account=account, threshold=1, direction="below")


def records(staff, n):  # idempotency keys, exports, verification runs, API keys
    for _ in range(n):
        owner = UserFactory(is_staff=True)
        IdempotencyKey.objects.create(
            principal=f"user:{owner.pk}",
            key=f"k{next(serial)}",
            fingerprint="f",
            method="POST",
            path="/api/v1/transfers",
            response_status=201,
            expires_at=timezone.now(),
        )
        Export.objects.create(owner=owner, kind="entries", account=AccountFactory(owner=owner))
        VerificationRun.objects.create(checked_at=timezone.now(), violation_count=0)
        create_api_key(actor=owner, name="k")


CHANGELISTS = [
    ("/admin/ledger/transaction/", deposits),
    ("/admin/ledger/entry/", deposits),
    ("/admin/reporting/balancesnapshot/", deposits),
    ("/admin/accounts/account/", deposits),
    ("/admin/accounts/user/", deposits),
    ("/admin/orders/order/", orders),
    ("/admin/orders/order/?status__exact=all", orders),
    ("/admin/ledger/holdunderreview/", review_holds),
    ("/admin/ledger/adjustmentrequest/", adjustment_requests),
    ("/admin/audit/auditlog/", audit_rows),
    ("/admin/ledger/riskrule/", risk_rules),
    ("/admin/ledger/balancemonitor/", risk_rules),
    ("/admin/ledger/idempotencykey/", records),
    ("/admin/reporting/export/", records),
    ("/admin/reporting/verificationrun/", records),
    ("/admin/accounts/apikey/", records),
]


@pytest.mark.parametrize(("url", "make"), CHANGELISTS)
def test_changelist_queries_do_not_grow_with_rows(client, staff, url, make, settings):
    settings.MAX_PENDING_ORDERS = 100
    client.force_login(UserFactory(is_staff=True, is_superuser=True))

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url)
        assert response.status_code == 200
        return len(captured)

    make(staff, 3)
    few = queries()
    make(staff, 27)
    many = queries()

    assert many == few, f"{url}: {few} queries for 3 rows, {many} for 30"


def test_the_paginator_counts_exactly_on_small_tables_and_sqlite(staff):
    deposits(staff, 3)

    paginator = EstimatedCountPaginator(Entry.objects.order_by("pk"), 100)

    assert paginator.count == 6


@pytest.mark.postgres
def test_the_paginator_uses_the_planner_estimate_for_a_big_unfiltered_table(staff, monkeypatch):
    deposits(staff, 5)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_entry")
    monkeypatch.setattr(EstimatedCountPaginator, "estimate_above", 1)
    estimate = estimated_row_count(Entry.objects.all())
    assert estimate == 10

    with CaptureQueriesContext(connection) as captured:
        assert EstimatedCountPaginator(Entry.objects.order_by("pk"), 100).count == 10
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)

    # A filtered list counts exactly.
    filtered = Entry.objects.filter(amount__gt=0)
    assert estimated_row_count(filtered) is None
    assert EstimatedCountPaginator(filtered.order_by("pk"), 100).count == 5
