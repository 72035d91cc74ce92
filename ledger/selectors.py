"""Every read of the books. Scoped by the caller: someone else's row is NotFound (404)."""

from dataclasses import dataclass
from datetime import datetime
from typing import cast

from django.db.models import Count, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncHour
from django.utils import timezone

from accounts.models import Account, User
from accounts.permissions import VIEW_ACCOUNTS, VIEW_TRANSACTIONS
from ledger.models import Entry, Transaction
from ledger.representations import ALL
from ledgerflow.errors import NotFound, ValidationFailed
from ledgerflow.permissions import has_right, refuse_if_visible


@dataclass(frozen=True)
class Balance:
    account: Account
    balance: int
    pending_debits: int
    pending_credits: int
    as_of: datetime
    version: int

    @property
    def available(self) -> int:
        return self.balance - self.pending_debits


def balance_now(account: Account) -> Balance:
    return Balance(
        account=account,
        balance=account.balance,
        pending_debits=account.pending_debits,
        pending_credits=account.pending_credits,
        as_of=timezone.now(),
        version=account.version,
    )


def balance_at(
    account: Account, *, at: datetime | None = None, version: int | None = None
) -> Balance:
    """Posted balance as of an instant or an account version, read from one entry's
    `balance_after` through the (account, created_at) / (account, version) indexes.

    Holds are not historised, so pending amounts of a past balance are reported as zero.
    """
    if at is None and version is None:
        return balance_now(account)
    entries = Entry.objects.filter(account=account)
    if version is not None:
        if version < 0 or version > account.version:
            raise ValidationFailed(
                f"Version {version} does not exist; the account is at {account.version}.",
                {"version": ["No such version."]},
            )
        entry = entries.filter(account_version=version).first() if version else None
        as_of = entry.created_at if entry else account.created_at
    else:
        entry = (
            entries.filter(created_at__lte=at).order_by("-created_at", "-account_version").first()
        )
        as_of = cast(datetime, at)  # not None: with neither, balance_now answered above
    return Balance(
        account=account,
        balance=entry.balance_after if entry else 0,
        pending_debits=0,
        pending_credits=0,
        as_of=as_of,
        version=entry.account_version if entry else 0,
    )


def entries_of(account: Account) -> QuerySet[Entry]:
    return Entry.objects.filter(account=account).select_related("transaction", "account")


def entry_scope(actor: User) -> int | None:
    """Whose entries show `balance_after` to `actor` (representations.transaction_data):
    every account's for staff who may view any account, else only the actor's own."""
    return ALL if has_right(actor, VIEW_ACCOUNTS) else actor.pk


def transactions_visible_to(
    actor: User, *, rights: tuple[str, ...] = (VIEW_TRANSACTIONS,)
) -> QuerySet[Transaction]:
    """Transactions touching the actor's accounts, or all if it holds any of `rights`."""
    qs = Transaction.objects.select_related("asset", "reverses").prefetch_related(
        "entries__account__asset"
    )
    if any(has_right(actor, right) for right in rights):
        return qs
    own_entries = Entry.objects.filter(account__owner=actor).values("transaction_id")
    # Holds have no entries until posted: their accounts make them visible.
    return qs.filter(Q(pk__in=own_entries) | Q(hold_from__owner=actor) | Q(hold_to__owner=actor))


def transaction_for(
    actor: User, public_id: str, *, rights: tuple[str, ...] = (VIEW_TRANSACTIONS,)
) -> Transaction:
    txn = transactions_visible_to(actor, rights=rights).filter(public_id=public_id).first()
    if txn is None:
        if VIEW_TRANSACTIONS not in rights:
            found = Transaction.objects.filter(public_id=public_id)
            refuse_if_visible(actor, " or ".join(rights), VIEW_TRANSACTIONS, found)
        raise NotFound(f"No transaction {public_id!r}.")
    return txn


def transfer_volume_by_hour(*, since: datetime) -> list[dict]:
    """Posted transfers since `since`, per asset and hour: one aggregate query.

    Rows `{asset__code, asset__exponent, hour, count, volume}` (volume in minor units), for
    the operator dashboard; hours without transfers have no row.
    """
    return list(
        Transaction.objects.filter(
            kind=Transaction.Kind.TRANSFER,
            status=Transaction.Status.POSTED,
            created_at__gte=since,
        )
        .annotate(hour=TruncHour("created_at"))
        .values("asset__code", "asset__exponent", "hour")
        .annotate(count=Count("pk"), volume=Sum("amount"))
        .order_by("asset__code", "hour")
    )


def holds_in_review() -> dict:
    """Movements a risk rule held for an operator: `count` and `oldest` (created_at), in one
    aggregate query, for the operator dashboard."""
    return Transaction.objects.filter(
        status=Transaction.Status.PENDING, hold_reason=Transaction.HoldReason.REVIEW
    ).aggregate(count=Count("pk"), oldest=Min("created_at"))


def hold_counts() -> dict:
    """Two-phase holds at a metrics scrape, in one aggregate query: `pending` (not yet posted
    or voided) and `review` (of them, held by a risk rule for an operator)."""
    return Transaction.objects.filter(status=Transaction.Status.PENDING).aggregate(
        pending=Count("pk"), review=Count("pk", filter=Q(hold_reason=Transaction.HoldReason.REVIEW))
    )


def transfers_since(since: datetime) -> list[dict]:
    """Posted transfers since `since` per asset: `{asset__code, asset__exponent, count,
    volume}` (minor units), one aggregate query, for the operator dashboard."""
    return list(
        Transaction.objects.filter(
            kind=Transaction.Kind.TRANSFER,
            status=Transaction.Status.POSTED,
            created_at__gte=since,
        )
        .values("asset__code", "asset__exponent")
        .annotate(count=Count("pk"), volume=Sum("amount"))
        .order_by("asset__code")
    )
