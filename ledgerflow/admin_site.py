"""The admin site as the operator dashboard: index figures, and a paginator for big tables.

The figures come from a handful of aggregate queries (one per panel), never from per-row
Python, so the index costs the same with ten rows or ten million. Apps are reached through
`apps.get_model`: this module is wiring and must not couple the apps to one another.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.apps import apps
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Count, Min, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.timesince import timesince

from ledgerflow.money import to_major


class LedgerFlowAdminSite(admin.AdminSite):
    site_header = "LedgerFlow back office"
    site_title = "LedgerFlow back office"
    index_title = "Dashboard"

    def index(self, request, extra_context=None):
        context = {"figures": dashboard_figures(), **(extra_context or {})}
        return super().index(request, extra_context=context)


class EstimatedCountPaginator(Paginator):
    """Uses PostgreSQL's row estimate instead of COUNT(*) for an unfiltered big table.

    COUNT(*) is a full scan: seconds on a table of tens of millions of entries, paid on every
    changelist page. The planner's `pg_class.reltuples` is free and close enough for "page N
    of about M". Filtered lists, small tables and SQLite count exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        estimate = estimated_row_count(self.object_list)
        if estimate is not None and estimate >= self.estimate_above:
            return estimate
        return super().count


def estimated_row_count(queryset: QuerySet) -> int | None:
    """The planner's row estimate of an unfiltered queryset's table, or None."""
    if not isinstance(queryset, QuerySet) or queryset.query.where:
        return None
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)",
            [connection.ops.quote_name(queryset.model._meta.db_table)],
        )
        row = cursor.fetchone()
    # -1 means never analysed.
    return int(row[0]) if row and row[0] >= 0 else None


# --- index figures -------------------------------------------------------------------------


@dataclass
class AssetBalances:
    code: str
    customer: str
    customer_held: str
    system: str
    balanced: bool  # every entry sums to zero per asset, so all balances must too


@dataclass
class AssetVolume:
    code: str
    count: int
    volume: str


@dataclass
class DashboardFigures:
    pending_orders: int
    oldest_pending_order_age: str | None
    pending_orders_url: str
    holds_in_review: int
    oldest_hold_age: str | None
    holds_url: str
    balances: list[AssetBalances]
    deliveries_failed: int
    deliveries_pending: int
    deliveries_overdue: int
    oldest_pending_delivery_age: str | None
    deliveries_failed_url: str
    deliveries_pending_url: str
    verification_checked_at: datetime | None
    verification_age: str | None
    verification_violations: int | None
    verification_url: str
    transfers_today: list[AssetVolume] = field(default_factory=list)
    transfers_url: str = ""


def dashboard_figures(now: datetime | None = None) -> DashboardFigures:
    """Everything the index shows, in six aggregate queries."""
    now = now or timezone.now()
    order = apps.get_model("orders", "Order")
    transaction = apps.get_model("ledger", "Transaction")
    account = apps.get_model("accounts", "Account")
    delivery = apps.get_model("webhooks", "Delivery")
    verification = apps.get_model("ledger", "VerificationRun")

    orders = order.objects.filter(status="pending").aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    holds = transaction.objects.filter(status="pending", hold_reason="review").aggregate(
        count=Count("pk"), oldest=Min("created_at")
    )
    deliveries = delivery.objects.aggregate(
        failed=Count("pk", filter=Q(status="failed")),
        pending=Count("pk", filter=Q(status="pending")),
        # Due more than a minute ago and still not sent: the workers are behind or down.
        overdue=Count(
            "pk", filter=Q(status="pending", next_attempt_at__lt=now - timedelta(minutes=1))
        ),
        oldest=Min("created_at", filter=Q(status="pending")),
    )
    balances = (
        account.objects.values("asset__code", "asset__exponent")
        .annotate(
            customer=Sum("balance", filter=Q(system_code__isnull=True), default=0),
            customer_held=Sum("pending_debits", filter=Q(system_code__isnull=True), default=0),
            system=Sum("balance", filter=Q(system_code__isnull=False), default=0),
        )
        .order_by("asset__code")
    )
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    transfers = (
        transaction.objects.filter(kind="transfer", status="posted", created_at__gte=day_start)
        .values("asset__code", "asset__exponent")
        .annotate(count=Count("pk"), volume=Sum("amount"))
        .order_by("asset__code")
    )
    last_run = verification.objects.order_by("-checked_at", "-pk").first()

    def age(since: datetime | None) -> str | None:
        return timesince(since, now) if since else None

    return DashboardFigures(
        pending_orders=orders["count"],
        oldest_pending_order_age=age(orders["oldest"]),
        pending_orders_url=reverse("admin:orders_order_changelist") + "?status__exact=pending",
        holds_in_review=holds["count"],
        oldest_hold_age=age(holds["oldest"]),
        holds_url=reverse("admin:ledger_holdunderreview_changelist"),
        balances=[
            AssetBalances(
                code=row["asset__code"],
                customer=to_major(row["customer"], row["asset__exponent"]),
                customer_held=to_major(row["customer_held"], row["asset__exponent"]),
                system=to_major(row["system"], row["asset__exponent"]),
                balanced=row["customer"] + row["system"] == 0,
            )
            for row in balances
        ],
        deliveries_failed=deliveries["failed"],
        deliveries_pending=deliveries["pending"],
        deliveries_overdue=deliveries["overdue"],
        oldest_pending_delivery_age=age(deliveries["oldest"]),
        deliveries_failed_url=reverse("admin:webhooks_delivery_changelist")
        + "?status__exact=failed",
        deliveries_pending_url=reverse("admin:webhooks_delivery_changelist")
        + "?status__exact=pending",
        verification_checked_at=last_run.checked_at if last_run else None,
        verification_age=age(last_run.checked_at) if last_run else None,
        verification_violations=last_run.violation_count if last_run else None,
        verification_url=reverse("admin:ledger_verificationrun_changelist"),
        transfers_today=[
            AssetVolume(
                code=row["asset__code"],
                count=row["count"],
                volume=to_major(row["volume"], row["asset__exponent"]),
            )
            for row in transfers
        ],
        transfers_url=reverse("admin:ledger_transaction_changelist")
        + f"?kind__exact=transfer&status__exact=posted&created_at__year={day_start.year}"
        + f"&created_at__month={day_start.month}&created_at__day={day_start.day}",
    )
