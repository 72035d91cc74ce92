"""Reporting reads: snapshots of an account, period summaries, exports, verification runs.

Reads that may lag a moment (snapshots, summaries) go to `read_replica()`.
"""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from accounts.models import Account, User
from ledger.models import Entry, Transaction
from ledgerflow.errors import NotFound, ValidationFailed
from ledgerflow.routers import read_replica
from reporting.models import BalanceSnapshot, Export, VerificationRun

# --- snapshots -----------------------------------------------------------------------------


def snapshots_of(
    account: Account, *, since: datetime | None = None, until: datetime | None = None
) -> QuerySet[BalanceSnapshot]:
    """The account's snapshots taken in [since, until); the caller has checked ownership."""
    qs = BalanceSnapshot.objects.using(read_replica()).filter(account=account)
    if since is not None:
        qs = qs.filter(taken_at__gte=since)
    if until is not None:
        qs = qs.filter(taken_at__lt=until)
    return qs


# --- summary -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """Minor units: `money_in` is the sum of positive entries, `money_out` of negative ones
    (as a positive number)."""

    money_in: int = 0
    money_out: int = 0

    @property
    def net(self) -> int:
        return self.money_in - self.money_out

    def __add__(self, other: "Totals") -> "Totals":
        return Totals(self.money_in + other.money_in, self.money_out + other.money_out)


@dataclass(frozen=True)
class Summary:
    account: Account
    since: datetime | None
    until: datetime
    total: Totals
    by_category: dict[str, Totals] = field(default_factory=dict)
    by_kind: dict[str, Totals] = field(default_factory=dict)


def summary_of(account: Account, *, since: datetime | None, until: datetime | None) -> Summary:
    """Money in, out and net over [since, until) from the account's posted entries.

    One aggregate query grouped by (category, kind) with conditional sums; the per-category,
    per-kind and overall totals are folded from its rows.
    """
    until = until or timezone.now()
    if since is not None and since >= until:
        raise ValidationFailed("`from` must be before `to`.", {"from": ["Must be before `to`."]})
    entries = Entry.objects.using(read_replica()).filter(
        account=account, transaction__status=Transaction.Status.POSTED, created_at__lt=until
    )
    if since is not None:
        entries = entries.filter(created_at__gte=since)
    rows = (
        entries.values("transaction__category", "transaction__kind")
        .annotate(
            money_in=Sum("amount", filter=Q(amount__gt=0), default=0),
            money_out=Sum("amount", filter=Q(amount__lt=0), default=0),
        )
        .order_by()
    )
    total = Totals()
    by_category: dict[str, Totals] = {}
    by_kind: dict[str, Totals] = {}
    for row in rows:
        totals = Totals(row["money_in"], -row["money_out"])
        total += totals
        category, kind = row["transaction__category"], row["transaction__kind"]
        by_category[category] = by_category.get(category, Totals()) + totals
        by_kind[kind] = by_kind.get(kind, Totals()) + totals
    return Summary(
        account=account,
        since=since,
        until=until,
        total=total,
        by_category=dict(sorted(by_category.items())),
        by_kind=dict(sorted(by_kind.items())),
    )


# --- exports and verification runs ----------------------------------------------------------


def export_for(actor: User, public_id: str) -> Export:
    """The caller's own export (staff too: exports are personal), or NotFound."""
    export = (
        Export.objects.select_related("account").filter(owner=actor, public_id=public_id).first()
    )
    if export is None:
        raise NotFound(f"No export {public_id!r}.")
    return export


def latest_verification() -> VerificationRun | None:
    return VerificationRun.objects.order_by("-checked_at", "-pk").first()
