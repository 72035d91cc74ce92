"""The admin site as the operator dashboard: index figures, and a paginator for big tables.

The figures come from a handful of aggregate queries (one per panel), never from per-row
Python, so the index costs the same with ten rows or ten million. Each figure comes from
its app's selectors (accounts, ledger, orders, reporting, webhooks), which the apps register
as dashboard panels in their AppConfig.ready(): this module imports no app and only arranges
them.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import ImproperlyConfigured
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.timesince import timesince

from ledgerflow.charts import BarChart, bar_chart
from ledgerflow.money import to_major


class LedgerFlowAdminSite(admin.AdminSite):
    site_header = "LedgerFlow back office"
    site_title = "LedgerFlow back office"
    index_title = "Dashboard"
    # "View site": this site's public face is its API, and its docs are what a visitor needs.
    site_url = "/api/docs/"

    def index(self, request, extra_context=None):
        context = {
            "figures": dashboard_figures(),
            # Only http(s): the link must never become a javascript: URL, whatever the env says.
            "grafana_url": settings.GRAFANA_URL
            if settings.GRAFANA_URL.startswith(("https://", "http://"))
            else "",
            **(extra_context or {}),
        }
        return super().index(request, extra_context=context)


class ReadOnly:
    """Nobody adds, changes or deletes these rows in the admin, superusers included: for a
    ModelAdmin (ReadOnlyAdmin) or an inline."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnly, admin.ModelAdmin):
    """History (posted books, the outbox, delivery logs, reports, the audit log): operators
    inspect it in the admin, only services write it."""


class EstimatedCountPaginator(Paginator):
    """Uses PostgreSQL's row estimate instead of COUNT(*) for an unfiltered big table.

    COUNT(*) is a full scan: seconds on a table of tens of millions of entries, paid on every
    changelist page. The planner's `pg_class.reltuples` is free and close enough for "page N
    of about M". Filtered lists, small tables and SQLite count exactly.
    """

    estimate_above = 100_000

    @cached_property
    def count(self) -> int:
        estimate = estimated_row_count(self.object_list)  # type: ignore[arg-type]  # the admin paginates querysets
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
    orders_in_review: int = 0
    orders_in_review_url: str = ""
    volume_charts: list[BarChart] = field(default_factory=list)
    order_age_chart: BarChart | None = None
    backlog_chart: BarChart | None = None


# Age buckets of the charts: [0, b0), [b0, b1), …, [b_last, ∞).
ORDER_AGE_BOUNDS = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
ORDER_AGE_LABELS = ("< 1 h", "1–6 h", "6–24 h", "≥ 24 h")
BACKLOG_BOUNDS = (
    timedelta(minutes=1),
    timedelta(minutes=10),
    timedelta(hours=1),
    timedelta(hours=24),
)
BACKLOG_LABELS = ("< 1 min", "1–10 m", "10–60 m", "1–24 h", "≥ 1 d")


# --- panels: the apps' selectors, registered in their AppConfig.ready() ---------------------
# name -> what the registered function is called with and returns:
DASHBOARD_PANELS = {
    # orders: {"count", "oldest", "in_review", "ages": [count per bucket]}
    "pending_orders": "(*, now, bounds) -> dict",
    # ledger: {"count", "oldest"} of holds waiting for review
    "holds_in_review": "() -> dict",
    # webhooks: {"pending", "failed", "overdue", "oldest", "ages": [count per bucket]}
    "delivery_backlog": "(*, now, bounds, overdue_after) -> dict",
    # accounts: rows {"asset__code", "asset__exponent", "customer", "customer_held", "system"}
    "balances_by_asset": "() -> list[dict]",
    # ledger: rows {"asset__code", "asset__exponent", "count", "volume"} of posted transfers
    "transfers_since": "(since) -> list[dict]",
    # ledger: the same rows per "hour"
    "transfer_volume_by_hour": "(*, since) -> list[dict]",
    # reporting: the last verification run (checked_at, violation_count), or None
    "latest_verification": "() -> VerificationRun | None",
}
_panels: dict[str, Callable[..., Any]] = {}


def register_dashboard_panel(name: str, figures: Callable[..., Any]) -> None:
    """Feed the dashboard's panel `name` (a key of DASHBOARD_PANELS) from `figures`."""
    if name not in DASHBOARD_PANELS:
        raise ValueError(f"No dashboard panel {name!r}; known: {', '.join(DASHBOARD_PANELS)}.")
    _panels[name] = figures


def _panel(name: str) -> Callable[..., Any]:
    try:
        return _panels[name]
    except KeyError:
        raise ImproperlyConfigured(
            f"No app registered the dashboard panel {name!r} (register_dashboard_panel)."
        ) from None


def dashboard_figures(now: datetime | None = None) -> DashboardFigures:
    """Everything the index shows, in seven aggregate queries."""
    now = now or timezone.now()
    orders = _panel("pending_orders")(now=now, bounds=ORDER_AGE_BOUNDS)
    holds = _panel("holds_in_review")()
    # Due more than a minute ago and still not sent: the workers are behind or down.
    deliveries = _panel("delivery_backlog")(
        now=now, bounds=BACKLOG_BOUNDS, overdue_after=timedelta(minutes=1)
    )
    balances = _panel("balances_by_asset")()
    day_start = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    transfers = _panel("transfers_since")(day_start)
    last_run = _panel("latest_verification")()
    hour_start = timezone.localtime(now).replace(minute=0, second=0, microsecond=0)
    hours = [hour_start - timedelta(hours=23 - i) for i in range(24)]
    volume = _panel("transfer_volume_by_hour")(since=hours[0])

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
        verification_url=reverse("admin:reporting_verificationrun_changelist"),
        transfers_today=[
            AssetVolume(
                code=row["asset__code"],
                count=row["count"],
                volume=to_major(row["volume"], row["asset__exponent"]),
            )
            for row in transfers
        ],
        orders_in_review=orders["in_review"],
        orders_in_review_url=reverse("admin:orders_order_changelist")
        + "?status__exact=needs_review",
        volume_charts=_volume_charts(volume, hours),
        order_age_chart=_age_chart("order-ages", orders["ages"], ORDER_AGE_LABELS, "order"),
        backlog_chart=_age_chart("webhook-backlog", deliveries["ages"], BACKLOG_LABELS, "delivery"),
        transfers_url=reverse("admin:ledger_transaction_changelist")
        + f"?kind__exact=transfer&status__exact=posted&created_at__year={day_start.year}"
        + f"&created_at__month={day_start.month}&created_at__day={day_start.day}",
    )


def _volume_charts(rows: list[dict], hours: list[datetime]) -> list[BarChart]:
    """One chart per asset (amounts of different assets do not add up): 24 hourly bars."""
    by_asset: dict[str, tuple[int, dict[datetime, dict]]] = {}
    for row in rows:
        hour = timezone.localtime(row["hour"]).replace(minute=0, second=0, microsecond=0)
        exponent, cells = by_asset.setdefault(row["asset__code"], (row["asset__exponent"], {}))
        cells[hour] = row
    charts = []
    for code, (exponent, cells) in sorted(by_asset.items()):
        values = [cells[h]["volume"] if h in cells else 0 for h in hours]
        counts = [cells[h]["count"] if h in cells else 0 for h in hours]
        chart = bar_chart(
            f"volume-{code}",
            values,
            labels=[f"{h:%H}h" if h.hour % 6 == 0 else "" for h in hours],
            titles=[
                f"{h:%Y-%m-%d %H}:00–{h.hour:02d}:59: {n} transfer{'s' if n != 1 else ''}, "
                f"{to_major(v, exponent)} {code}"
                for h, v, n in zip(hours, values, counts, strict=True)
            ],
            max_label=f"{to_major(max(values), exponent)} {code}",
        )
        chart.caption = code
        chart.notes = [f"{sum(counts)} transfers, {to_major(sum(values), exponent)} {code} in 24 h"]
        charts.append(chart)
    return charts


def _age_chart(name: str, counts: list[int], labels: tuple[str, ...], noun: str) -> BarChart:
    return bar_chart(
        name,
        counts,
        labels=list(labels),
        titles=[
            f"{n} {noun if n == 1 else noun + 's'} {label} old"
            for n, label in zip(counts, labels, strict=True)
        ],
        max_label=str(max(counts, default=0)),
        width=260,  # a one-column card
    )
