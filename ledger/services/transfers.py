"""Transfers, batches and two-phase holds (all a transfer is: a batch of one)."""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from accounts.permissions import TRANSFER_ANY, VIEW_ACCOUNTS
from ledger import risk
from ledger.errors import AssetMismatch
from ledger.locks import lock_transaction
from ledger.models import RiskRule, Transaction
from ledger.services.books import Books, Leg, lock_books, minor_amount
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import (
    DomainError,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from ledgerflow.money import money_text
from ledgerflow.permissions import has_right, refuse_if_visible
from ledgerflow.writes import open_batch

MAX_BATCH = 1000


@dataclass
class TransferItem:
    """One transfer of a batch (or the only one): amounts in major units.

    Accounts are named by primary key (services, admin) or by public id (`from_account`,
    `to_account`: what an API client sends). A source named by public id must be the actor's
    own unless the actor holds TRANSFER_ANY; any other is NotFound, like an unknown id.
    """

    from_account_id: int | None = None
    to_account_id: int | None = None
    amount: Decimal = Decimal(0)
    reference: str = ""
    category: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    pending: bool = False
    expires_at: datetime | None = None
    from_account: str = ""
    to_account: str = ""


def open_books(
    actor: User | None, items: Sequence[TransferItem], *, deferrable: bool = False
) -> tuple[Books, dict[int, list[RiskRule]], list[tuple[int | None, int | None]]]:
    """Lock every account the items name — by id or public id, in one statement that also
    reads the configuration version — then the users of any per-user rule (the last lock).
    Returns the books, the rules by source, and each item's (source, target) primary keys:
    None where the account is unknown or, for a source named by public id, not the actor's.

    Rules, monitors and webhook subscribers come from the cached configuration of that
    version (ledger.config): no configuration query while the locks are held, unless it
    changed.
    """
    ids = {pk for item in items for pk in (item.from_account_id, item.to_account_id) if pk}
    public_ids = {pid for item in items for pid in (item.from_account, item.to_account) if pid}
    books = lock_books(actor, ids, public_ids=public_ids, deferrable=deferrable)
    by_public_id = {account.public_id: account.pk for account in books.accounts.values()}
    may_move_any = bool(public_ids) and has_right(actor, TRANSFER_ANY)

    def source_of(item: TransferItem) -> int | None:
        if not item.from_account:
            return item.from_account_id
        pk = by_public_id.get(item.from_account)
        owner = books.accounts[pk].owner_id if pk else None
        # Someone else's account is as unknown as a missing one (404, never 403).
        # A source by public id comes with an actor (the API's caller).
        return pk if (owner == cast(User, actor).pk or may_move_any) else None

    pairs = [
        (
            source_of(item),
            by_public_id.get(item.to_account) if item.to_account else item.to_account_id,
        )
        for item in items
    ]
    # Risk rules watch customer money leaving; system accounts are the operator's own.
    sources = {source for source, _ in pairs if source is not None} & books.accounts.keys()
    rules = {
        pk: books.config.rules_for(books.accounts[pk])
        for pk in sorted(sources)
        if books.accounts[pk].owner_id
    }
    risk.lock_rule_users(rule for source_rules in rules.values() for rule in source_rules)
    return books, rules, pairs


def _hold_expiry(item_expires_at: datetime | None) -> datetime:
    expires_at = item_expires_at or timezone.now() + timedelta(seconds=settings.HOLD_TTL)
    if expires_at <= timezone.now():
        raise ValidationFailed(
            "expires_at must be in the future.", {"expires_at": ["In the past."]}
        )
    return expires_at


def debit(
    books: Books,
    item: TransferItem,
    *,
    kind: str,
    source: Account,
    target: Account,
    rules: dict[int, list[RiskRule]],
    usage: risk.BatchUsage,
) -> Transaction:
    """Move the item's amount from `source` to `target` (its accounts, resolved and locked by
    `open_books`) now, or hold it (asked for, or sent to review)."""
    if source.asset_id != target.asset_id:
        raise AssetMismatch(
            f"{source.public_id} holds {source.asset.code}, "
            f"{target.public_id} holds {target.asset.code}."
        )
    minor = minor_amount(item.amount, source.asset)
    decision = risk.evaluate(
        source=source, amount=minor, rules=rules.get(source.pk, []), usage=usage
    )
    txn = books.new_transaction(
        kind=kind,
        asset=source.asset,
        amount=minor,
        reference=item.reference,
        category=item.category,
        metadata=item.metadata,
    )
    if decision == risk.REVIEW:
        txn.hold_reason = (
            Transaction.HoldReason.REVIEW
        )  # waits for an operator; it does not expire on its own
        books.hold(txn, source, target, minor)
    elif item.pending:
        txn.expires_at = _hold_expiry(item.expires_at)
        books.hold(txn, source, target, minor)
    else:
        books.post(txn, [Leg(source.pk, -minor), Leg(target.pk, minor)])
    usage.add(source.pk, minor)
    return txn


# --- transfers, holds and batches ----------------------------------------------------------


@retry_on_contention
def post_batch(*, actor: User, items: Sequence[TransferItem]) -> list[Transaction]:
    """Apply up to MAX_BATCH transfers all-or-nothing, locking every account once.

    A failing item raises its DomainError with `index` (its position) added; nothing applies.
    """
    # Inside the idempotency layer's unit (it opened a write batch, and rolls its whole
    # transaction back on any error) no savepoint of our own: two round trips less.
    with transaction.atomic(savepoint=open_batch() is None):
        return _post_batch(actor, items)


def _post_batch(actor: User, items: Sequence[TransferItem]) -> list[Transaction]:
    if not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed(
            f"A batch holds 1 to {MAX_BATCH} transfers.", {"transfers": ["1 to 1000 items."]}
        )
    books, rules, pairs = open_books(actor, items, deferrable=True)
    accounts, usage, txns = books.accounts, risk.BatchUsage(), []
    for index, (item, (source, target)) in enumerate(zip(items, pairs, strict=True)):
        try:
            if source not in accounts:
                if item.from_account:  # someone else's: 403 for staff who may see it
                    seen = Account.objects.filter(public_id=item.from_account)
                    refuse_if_visible(actor, TRANSFER_ANY, VIEW_ACCOUNTS, seen)
                raise NotFound(f"No account {item.from_account or item.from_account_id!r}.")
            if target not in accounts:
                raise NotFound(f"No account {item.to_account or item.to_account_id!r}.")
            if source == target:
                raise ValidationFailed(
                    "Cannot transfer to the same account.",
                    {"to_account": ["Same as from_account."]},
                )
            txns.append(
                debit(
                    books,
                    item,
                    kind=Transaction.Kind.TRANSFER,
                    source=accounts[source],
                    target=accounts[target],
                    rules=rules,
                    usage=usage,
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
    **options: Any,
) -> Transaction:
    """Move `amount` between two accounts of one asset, or hold it (`pending`, or review).

    `options` are the other fields of a TransferItem (reference, category, metadata,
    pending, expires_at): a transfer is a batch of one.

    Raises ValidationFailed (same account, bad amount), NotFound, AccountInactive,
    AssetMismatch, InsufficientFunds, LimitExceeded.
    """
    item = TransferItem(
        from_account_id=from_account_id, to_account_id=to_account_id, amount=amount, **options
    )
    return post_batch(actor=actor, items=[item])[0]


def _lock_hold(transaction_id: int) -> tuple[Transaction, Books]:
    """Lock a pending transaction, then its two accounts (lock order: transaction, accounts)."""
    txn = lock_transaction(transaction_id)
    if txn is None:
        raise NotFound("No such transaction.")
    if txn.status != Transaction.Status.PENDING:
        raise InvalidState(f"Only pending transactions can be settled; this one is {txn.status}.")
    source, target, _ = _hold_of(txn)
    return txn, lock_books(None, [source, target])


def _hold_of(txn: Transaction) -> tuple[int, int, int]:
    """(source pk, target pk, minor units held) of a pending transaction: every hold has them
    (the columns are nullable for the other statuses)."""
    return cast(int, txn.hold_from_id), cast(int, txn.hold_to_id), cast(int, txn.held_amount)


@retry_on_contention
@transaction.atomic
def post_pending(*, actor: User, transaction_id: int, amount: Decimal | None = None) -> Transaction:
    """Settle a hold: post `amount` (default: all of it) and release the rest. Once only.

    Raises InvalidState (not pending, or past its `expires_at`: only voiding is left, as beat's
    expire_holds will), PermissionDenied (a hold under review approved by whoever started it:
    four eyes, as for adjustments), ValidationFailed (more than is held).
    """
    txn, books = _lock_hold(transaction_id)
    if (
        txn.hold_reason
        != Transaction.HoldReason.REVIEW  # review holds wait for their operator, however long
        and txn.expires_at is not None
        and txn.expires_at <= timezone.now()
    ):
        raise InvalidState(
            f"This hold expired at {txn.expires_at.isoformat()}; it can only be voided now."
        )
    if txn.hold_reason == Transaction.HoldReason.REVIEW and txn.created_by_id == actor.pk:
        raise PermissionDenied(
            "Nobody approves a hold under review that they started: ask another operator."
        )
    books.actor = actor
    source, target, held = _hold_of(txn)
    minor = held if amount is None else minor_amount(amount, txn.asset)
    if minor > held:
        raise ValidationFailed(
            f"Cannot post {money_text(minor, txn.asset)}: the hold is "
            f"{money_text(held, txn.asset)}.",
            {"amount": ["At most the held amount."]},
        )
    books.release(txn)
    books.post(txn, [Leg(source, -minor), Leg(target, minor)])
    txn.status, txn.amount = Transaction.Status.POSTED, minor
    books.write()
    metrics.HOLDS.labels(outcome="posted").inc()
    return txn


@retry_on_contention
@transaction.atomic
def void_pending(*, actor: User | None, transaction_id: int, reason: str = "") -> Transaction:
    """Release everything a hold reserves. Once only; a posted hold cannot be voided.

    Anyone allowed to settle the hold may void it, their own under review too (declining
    moves no money). The audit log names `actor`; beat's expiry passes None.
    """
    txn, books = _lock_hold(transaction_id)
    books.actor = actor if actor is not None and actor.pk else None
    books.release(txn)
    txn.status = Transaction.Status.VOIDED
    source, target, _ = _hold_of(txn)
    books.events.append(("transaction.voided", txn, [source, target]))
    books.write()
    metrics.HOLDS.labels(outcome=reason or "voided").inc()
    return txn


def expire_holds(*, now: datetime | None = None) -> int:
    """Void every non-review hold whose `expires_at` has passed (beat task `expire_holds`).

    Safe beside a concurrent post: each hold is voided under its own row lock, and one that
    was posted or voided meanwhile is skipped.
    """
    now = now or timezone.now()
    due = (
        Transaction.objects.filter(status=Transaction.Status.PENDING, expires_at__lte=now)
        .exclude(hold_reason=Transaction.HoldReason.REVIEW)
        .values_list("pk", flat=True)
    )
    expired = 0
    for pk in list(due[:10_000]):
        try:
            void_pending(actor=None, transaction_id=pk, reason="expired")
            expired += 1
        except InvalidState:
            continue
    return expired


# --- money in and out, journals, settlement, reversal ----------------------------------------
