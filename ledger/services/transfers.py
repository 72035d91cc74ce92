"""Transfers, batches and two-phase holds (all a transfer is: a batch of one)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.locks import lock_accounts
from accounts.models import Account, User
from ledger import risk
from ledger.errors import AssetMismatch
from ledger.models import BalanceMonitor, Transaction
from ledger.services.books import Books, Leg, minor_amount
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import DomainError, InvalidState, NotFound, ValidationFailed
from webhooks.services import subscribers

MAX_BATCH = 1000


@dataclass
class TransferItem:
    """One transfer of a batch (or the only one): amounts in major units."""

    from_account_id: int
    to_account_id: int
    amount: Decimal
    reference: str = ""
    category: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: bool = False
    expires_at: datetime | None = None


def open_books(
    account_ids: Iterable[int], source_ids: Iterable[int], actor: User | None
) -> tuple[Books, dict[int, list]]:
    """Read the risk rules and balance monitors, then lock the accounts (pk order), then the
    users of any per-user rule (always the last lock).

    Rules, monitors and webhook subscribers are configuration, not balances: reading them
    before the row locks shortens the time a lock is held, which is what limits a hot
    account's throughput.
    """
    ids = sorted(set(account_ids))
    keys = {
        row.pk: row for row in Account.objects.filter(pk__in=ids).only("id", "asset_id", "owner_id")
    }
    # Risk rules watch customer money leaving; system accounts are the operator's own.
    rules = risk.rules_for(
        keys[pk] for pk in sorted(set(source_ids)) if pk in keys and keys[pk].owner_id
    )
    monitors = list(BalanceMonitor.objects.filter(is_active=True, account_id__in=ids))
    endpoints = subscribers(row.owner_id for row in keys.values() if row.owner_id)
    accounts = lock_accounts(ids)
    risk.lock_rule_users(rule for source_rules in rules.values() for rule in source_rules)
    return Books(accounts, actor, monitors=monitors, endpoints=endpoints), rules


def _hold_expiry(item_expires_at: datetime | None) -> datetime:
    expires_at = item_expires_at or timezone.now() + timedelta(seconds=settings.HOLD_TTL)
    if expires_at <= timezone.now():
        raise ValidationFailed(
            "expires_at must be in the future.", {"expires_at": ["In the past."]}
        )
    return expires_at


def debit(
    books: Books,
    *,
    kind: str,
    source: Account,
    target: Account,
    amount: Decimal,
    rules: dict[int, list],
    usage: risk.BatchUsage,
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
    pending: bool = False,
    expires_at: datetime | None = None,
) -> Transaction:
    """Move `amount` from `source` to `target` now, or hold it (asked for, or sent to review)."""
    if source.asset_id != target.asset_id:
        raise AssetMismatch(
            f"{source.public_id} holds {source.asset.code}, "
            f"{target.public_id} holds {target.asset.code}."
        )
    minor = minor_amount(amount, source.asset)
    decision = risk.evaluate(
        source=source, amount=minor, rules=rules.get(source.pk, []), usage=usage
    )
    txn = books.new_transaction(
        kind=kind,
        asset=source.asset,
        amount=minor,
        reference=reference,
        category=category,
        metadata=metadata or {},
    )
    if decision == risk.REVIEW:
        txn.hold_reason = risk.REVIEW  # waits for an operator; it does not expire on its own
        books.hold(txn, source, target, minor)
    elif pending:
        txn.expires_at = _hold_expiry(expires_at)
        books.hold(txn, source, target, minor)
    else:
        books.post(txn, [Leg(source.pk, -minor), Leg(target.pk, minor)])
    usage.add(source.pk, minor)
    return txn


# --- transfers, holds and batches ----------------------------------------------------------


@retry_on_contention
@transaction.atomic
def post_batch(*, actor: User, items: Sequence[TransferItem]) -> list[Transaction]:
    """Apply up to MAX_BATCH transfers all-or-nothing, locking every account once.

    A failing item raises its DomainError with `index` (its position) added; nothing applies.
    """
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed(
            f"A batch holds 1 to {MAX_BATCH} transfers.", {"transfers": ["1 to 1000 items."]}
        )
    ids = {pk for item in items for pk in (item.from_account_id, item.to_account_id)}
    books, rules = open_books(ids, (item.from_account_id for item in items), actor)
    accounts, usage, txns = books.accounts, risk.BatchUsage(), []
    for index, item in enumerate(items):
        try:
            if item.from_account_id == item.to_account_id:
                raise ValidationFailed(
                    "Cannot transfer to the same account.",
                    {"to_account": ["Same as from_account."]},
                )
            if item.from_account_id not in accounts or item.to_account_id not in accounts:
                raise NotFound("No such account.")
            txns.append(
                debit(
                    books,
                    kind=Transaction.Kind.TRANSFER,
                    source=accounts[item.from_account_id],
                    target=accounts[item.to_account_id],
                    amount=item.amount,
                    rules=rules,
                    usage=usage,
                    reference=item.reference,
                    category=item.category,
                    metadata=item.metadata,
                    pending=item.pending,
                    expires_at=item.expires_at,
                )
            )
        except DomainError as exc:
            metrics.TRANSFERS.labels(kind=Transaction.Kind.TRANSFER, outcome=exc.code).inc()
            if len(items) > 1:
                exc.extra["index"] = index
            raise
    books.write()
    return txns


def post_transfer(
    *,
    actor: User,
    from_account_id: int,
    to_account_id: int,
    amount: Decimal,
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
    pending: bool = False,
    expires_at: datetime | None = None,
) -> Transaction:
    """Move `amount` between two accounts of one asset, or hold it (`pending`, or review).

    Raises ValidationFailed (same account, bad amount), NotFound, AccountInactive,
    AssetMismatch, InsufficientFunds, LimitExceeded.
    """
    item = TransferItem(
        from_account_id=from_account_id,
        to_account_id=to_account_id,
        amount=amount,
        reference=reference,
        category=category,
        metadata=metadata or {},
        pending=pending,
        expires_at=expires_at,
    )
    return post_batch(actor=actor, items=[item])[0]


def _lock_hold(transaction_id: int) -> tuple[Transaction, Books]:
    """Lock a pending transaction, then its two accounts (lock order: transaction, accounts)."""
    txn = (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("asset")
        .filter(pk=transaction_id)
        .first()
    )
    if txn is None:
        raise NotFound("No such transaction.")
    if txn.status != Transaction.Status.PENDING:
        raise InvalidState(f"Only pending transactions can be settled; this one is {txn.status}.")
    accounts = lock_accounts([txn.hold_from_id, txn.hold_to_id])
    return txn, Books(accounts, None)


@retry_on_contention
@transaction.atomic
def post_pending(*, actor: User, transaction_id: int, amount: Decimal | None = None) -> Transaction:
    """Settle a hold: post `amount` (default: all of it) and release the rest. Once only."""
    txn, books = _lock_hold(transaction_id)
    books.actor = actor
    minor = txn.held_amount if amount is None else minor_amount(amount, txn.asset)
    if minor > txn.held_amount:
        raise ValidationFailed(
            "Cannot post more than is held.", {"amount": ["At most the held amount."]}
        )
    books.release(txn)
    books.post(txn, [Leg(txn.hold_from_id, -minor), Leg(txn.hold_to_id, minor)])
    txn.status, txn.amount = Transaction.Status.POSTED, minor
    books.write()
    metrics.HOLDS.labels(outcome="posted").inc()
    return txn


@retry_on_contention
@transaction.atomic
def void_pending(*, actor: User | None, transaction_id: int, reason: str = "") -> Transaction:
    """Release everything a hold reserves. Once only; a posted hold cannot be voided."""
    txn, books = _lock_hold(transaction_id)
    books.release(txn)
    txn.status = Transaction.Status.VOIDED
    books.events.append(("transaction.voided", txn, [txn.hold_from_id, txn.hold_to_id]))
    books.write()
    metrics.HOLDS.labels(outcome=reason or "voided").inc()
    return txn


def expire_holds(*, now: datetime | None = None) -> int:
    """Void every non-review hold whose `expires_at` has passed (beat task `expire_holds`).

    Safe beside a concurrent post: each hold is voided under its own row lock, and one that
    was posted or voided meanwhile is skipped.
    """
    now = now or timezone.now()
    due = Transaction.objects.filter(
        status=Transaction.Status.PENDING, expires_at__lte=now
    ).values_list("pk", flat=True)
    expired = 0
    for pk in list(due[:10_000]):
        try:
            void_pending(actor=None, transaction_id=pk, reason="expired")
            expired += 1
        except InvalidState:
            continue
    return expired


# --- money in and out, journals, settlement, reversal ----------------------------------------
