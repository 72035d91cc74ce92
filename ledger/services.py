"""The only code that writes money.

Every movement runs in one `transaction.atomic()`: lock the touched accounts in primary-key
order, check status, asset, funds, policies and risk rules, then write the transactions, their
entries (with `balance_after` and the account version), the new balances and the outbox events
with a handful of bulk statements, and commit. A single transfer is a batch of one: one code
path serves both. Contention is retried by `retry_on_contention` (outermost call only).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from accounts.errors import AccountInactive
from accounts.locks import lock_accounts
from accounts.models import Account, Asset, User
from accounts.services import system_account
from ledger import risk
from ledger.errors import AssetMismatch, InsufficientFunds, LimitExceeded, UnbalancedTransaction
from ledger.models import BalanceMonitor, Entry, Transaction
from ledger.representations import transaction_data
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import DomainError, InvalidState, NotFound, ValidationFailed
from ledgerflow.money import InvalidAmount, fits_int64, to_major, to_minor
from webhooks.services import record_events

MAX_BATCH = 1000


@dataclass(frozen=True)
class Leg:
    """One intended entry: `amount` minor units (signed) on account `account_id`."""

    account_id: int
    amount: int


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


def minor_amount(amount: Decimal, asset: Asset, field: str = "amount") -> int:
    """Major-unit Decimal -> minor units of `asset`, or a 422 field error."""
    try:
        return to_minor(amount, asset.exponent)
    except InvalidAmount as exc:
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from None


def _ensure_movable(accounts: Iterable[Account], *, operator_correction: bool = False) -> None:
    for account in accounts:
        if account.status == Account.Status.ACTIVE:
            continue
        # Operators may still correct a frozen account (e.g. reverse a fraudulent payment).
        if operator_correction and account.status == Account.Status.FROZEN:
            continue
        raise AccountInactive(
            f"Account {account.public_id} is {account.status}.", account=account.public_id
        )


# --- the one writer ------------------------------------------------------------------------


class Books:
    """A unit of work over locked accounts.

    Postings and holds are applied in memory one after another, each checked against the
    running balances (so a batch touching one account many times gets the arithmetic right);
    `write()` then stores everything with bulk statements. Nothing is written if any check
    fails, and the surrounding atomic block rolls back anything partial.
    """

    def __init__(self, accounts: dict[int, Account], actor: User | None) -> None:
        self.accounts = accounts
        self.actor = actor if actor is not None and actor.pk else None
        self.opening = {pk: account.balance for pk, account in accounts.items()}
        self.new_txns: list[Transaction] = []
        self.changed_txns: list[Transaction] = []
        self.entries: list[Entry] = []
        self.events: list[tuple[str, Transaction, list[int]]] = []
        self.dirty: set[int] = set()

    def new_transaction(self, **fields: Any) -> Transaction:
        txn = Transaction(created_by=self.actor, **fields)
        self.new_txns.append(txn)
        return txn

    def post(self, txn: Transaction, legs: Sequence[Leg], *, operator_correction=False) -> None:
        """Post balanced `legs` as `txn`'s entries, checking funds and policies on the net."""
        missing = {leg.account_id for leg in legs} - self.accounts.keys()
        if missing:
            raise NotFound("No such account.")
        touched = [self.accounts[pk] for pk in sorted({leg.account_id for leg in legs})]
        _ensure_movable(touched, operator_correction=operator_correction)
        per_asset: dict[int, int] = defaultdict(int)
        net: dict[int, int] = defaultdict(int)
        for leg in legs:
            per_asset[self.accounts[leg.account_id].asset_id] += leg.amount
            net[leg.account_id] += leg.amount
        if any(per_asset.values()):
            raise UnbalancedTransaction(
                "Entries must sum to zero per asset.", {"entries": ["Entries do not balance."]}
            )
        for pk, delta in net.items():
            self._check(self.accounts[pk], balance=self.accounts[pk].balance + delta, delta=delta)
        entries = []
        for leg in legs:
            account = self.accounts[leg.account_id]
            account.balance += leg.amount
            account.version += 1
            entries.append(
                Entry(
                    transaction=txn,
                    account=account,
                    asset_id=account.asset_id,
                    amount=leg.amount,
                    balance_after=account.balance,
                    account_version=account.version,
                    created_at=txn.created_at,  # one instant for the whole transaction
                )
            )
        self.entries.extend(entries)
        self.dirty.update(net)
        txn.posted_entries = entries  # the representation uses these instead of re-reading
        event = "transaction.reversed" if txn.reverses_id else "transaction.posted"
        self.events.append((event, txn, sorted(net)))

    def hold(self, txn: Transaction, source: Account, target: Account, amount: int) -> None:
        """Reserve `amount`: the source's available funds fall, no balance moves."""
        _ensure_movable([source, target])
        if not source.allow_negative and source.spendable < amount:
            raise self._insufficient(source, amount)
        if target.max_balance is not None and (
            target.balance + target.pending_credits + amount > target.max_balance
        ):
            raise self._over_max(target)
        source.pending_debits += amount
        target.pending_credits += amount
        txn.status = Transaction.Status.PENDING
        txn.hold_from, txn.hold_to, txn.held_amount = source, target, amount
        self.dirty.update((source.pk, target.pk))
        self.events.append(("transaction.pending", txn, [source.pk, target.pk]))

    def release(self, txn: Transaction) -> None:
        """Give back what `txn` holds (before posting part of it, or voiding it)."""
        source, target = self.accounts[txn.hold_from_id], self.accounts[txn.hold_to_id]
        source.pending_debits -= txn.held_amount
        target.pending_credits -= txn.held_amount
        self.dirty.update((source.pk, target.pk))
        if txn.pk and txn not in self.changed_txns:
            self.changed_txns.append(txn)

    def _check(self, account: Account, *, balance: int, delta: int) -> None:
        if not fits_int64(balance):
            raise ValidationFailed(
                "The resulting balance would not fit in 64 bits.",
                {"amount": ["Too large for this account."]},
            )
        if delta < 0 and not account.allow_negative:
            if balance - account.pending_debits < -account.overdraft_limit:
                raise self._insufficient(account, -delta)
        if delta > 0 and account.max_balance is not None:
            if balance + account.pending_credits > account.max_balance:
                raise self._over_max(account)

    @staticmethod
    def _insufficient(account: Account, needed: int) -> InsufficientFunds:
        metrics.INSUFFICIENT_FUNDS.inc()
        return InsufficientFunds(
            f"Account {account.public_id} has {account.spendable} (minor units) to spend, "
            f"needs {needed}.",
            account=account.public_id,
        )

    @staticmethod
    def _over_max(account: Account) -> LimitExceeded:
        return LimitExceeded(
            f"Account {account.public_id} would exceed its maximum balance.",
            rule="max_balance",
            account=account.public_id,
        )

    def write(self) -> None:
        # bulk_create returns primary keys on PostgreSQL and SQLite >= 3.35.
        Transaction.objects.bulk_create(self.new_txns)
        for txn in self.changed_txns:
            txn.save(update_fields=["status", "amount"])
        Entry.objects.bulk_create(self.entries)
        _store_balances([self.accounts[pk] for pk in sorted(self.dirty)])
        events = [
            (event_type, transaction_data(txn), [self.accounts[pk] for pk in account_ids])
            for event_type, txn, account_ids in self.events
        ]
        record_events(events + self._monitor_events())
        self._count()

    def _monitor_events(self) -> list[tuple[str, dict[str, Any], list[Account]]]:
        moved = [pk for pk in sorted(self.dirty) if self.accounts[pk].balance != self.opening[pk]]
        if not moved:
            return []
        crossings = []
        for monitor in BalanceMonitor.objects.filter(is_active=True, account_id__in=moved):
            account = self.accounts[monitor.account_id]
            before, after = self.opening[account.pk], account.balance
            if monitor.direction == BalanceMonitor.Direction.BELOW:
                crossed = before >= monitor.threshold > after
            else:
                crossed = before < monitor.threshold <= after
            if crossed:
                exponent = account.asset.exponent
                data = {
                    "account": account.public_id,
                    "asset": account.asset.code,
                    "direction": monitor.direction,
                    "threshold": to_major(monitor.threshold, exponent),
                    "balance_before": to_major(before, exponent),
                    "balance_after": to_major(after, exponent),
                }
                crossings.append(("balance.threshold_crossed", data, [account]))
        return crossings

    def _count(self) -> None:
        counts = [
            (t.kind, t.status, t.asset.code, t.amount) for t in self.new_txns + self.changed_txns
        ]

        def count() -> None:
            for kind, status, asset, amount in counts:
                metrics.TRANSFERS.labels(kind=kind, outcome=status).inc()
                if status == Transaction.Status.POSTED:
                    metrics.TRANSFER_VOLUME.labels(asset=asset).inc(amount)

        transaction.on_commit(count)


def _store_balances(accounts: Sequence[Account]) -> None:
    """One UPDATE … FROM (VALUES …) for all touched accounts (PostgreSQL and SQLite >= 3.33).

    Django's bulk_update builds a CASE expression per column and row in Python; on the hot
    path of every transfer that cost more than the statement itself.
    """
    for start in range(0, len(accounts), 500):  # stay under SQLite's bound-parameter limit
        chunk = accounts[start : start + 500]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params = [
            value
            for a in chunk
            for value in (a.pk, a.balance, a.version, a.pending_debits, a.pending_credits)
        ]
        # Only "%s" placeholders are formatted in; the values travel as parameters.
        sql = (
            "UPDATE accounts_account SET balance = v.column2, version = v.column3, "  # noqa: S608
            "pending_debits = v.column4, pending_credits = v.column5 "
            f"FROM (VALUES {rows}) AS v WHERE accounts_account.id = v.column1"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def _lock_with_rules(
    account_ids: Iterable[int], source_ids: Iterable[int]
) -> tuple[dict[int, Account], dict[int, list]]:
    """Lock accounts (pk order), then the users of any per-user risk rule (always last)."""
    accounts = lock_accounts(account_ids)
    # Risk rules watch customer money leaving; system accounts are the operator's own.
    rules = risk.rules_for(
        accounts[pk] for pk in sorted(set(source_ids)) if pk in accounts and accounts[pk].owner_id
    )
    risk.lock_rule_users(rule for source_rules in rules.values() for rule in source_rules)
    return accounts, rules


def _hold_expiry(item_expires_at: datetime | None) -> datetime:
    expires_at = item_expires_at or timezone.now() + timedelta(seconds=settings.HOLD_TTL)
    if expires_at <= timezone.now():
        raise ValidationFailed(
            "expires_at must be in the future.", {"expires_at": ["In the past."]}
        )
    return expires_at


def _debit(
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
    accounts, rules = _lock_with_rules(ids, (item.from_account_id for item in items))
    books, usage, txns = Books(accounts, actor), risk.BatchUsage(), []
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
                _debit(
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


def _post_legs(
    *,
    actor: User | None,
    kind: str,
    legs: Sequence[Leg],
    accounts: dict[int, Account] | None = None,
    operator_correction: bool = False,
    reverses: Transaction | None = None,
    **fields: Any,
) -> Transaction:
    """Lock (unless locked already), check and post one balanced transaction."""
    if accounts is None:
        accounts = lock_accounts(leg.account_id for leg in legs)
    if {leg.account_id for leg in legs} - accounts.keys():
        raise NotFound("No such account.")
    headline = next(leg for leg in legs if leg.amount > 0)
    asset = accounts[headline.account_id].asset
    amount = sum(
        leg.amount
        for leg in legs
        if leg.amount > 0 and accounts[leg.account_id].asset_id == asset.pk
    )
    books = Books(accounts, actor)
    txn = books.new_transaction(kind=kind, asset=asset, amount=amount, reverses=reverses, **fields)
    books.post(txn, legs, operator_correction=operator_correction)
    books.write()
    return txn


def _with_system_account(account_id: int, system_code: str) -> tuple[Account, Account]:
    """The account and its asset's system account (`world`, `vault`), both unlocked yet."""
    account = Account.objects.select_related("asset").filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such account.")
    return account, system_account(asset=account.asset, system_code=system_code)


@retry_on_contention
@transaction.atomic
def post_deposit(
    *,
    actor: User,
    account_id: int,
    amount: Decimal,
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
) -> Transaction:
    """Money in: the asset's `world` account pays the account. Raises AccountInactive."""
    account, world = _with_system_account(account_id, Account.System.WORLD)
    minor = minor_amount(amount, account.asset)
    return _post_legs(
        actor=actor,
        kind=Transaction.Kind.DEPOSIT,
        legs=[Leg(world.pk, -minor), Leg(account.pk, minor)],
        reference=reference,
        category=category,
        metadata=metadata or {},
    )


@retry_on_contention
@transaction.atomic
def post_withdrawal(
    *,
    actor: User,
    account_id: int,
    amount: Decimal,
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
) -> Transaction:
    """Money out to the asset's `world` account; risk rules apply (review -> a pending hold).

    Raises AccountInactive, InsufficientFunds, LimitExceeded.
    """
    account, world = _with_system_account(account_id, Account.System.WORLD)
    accounts, rules = _lock_with_rules([account.pk, world.pk], [account.pk])
    books = Books(accounts, actor)
    txn = _debit(
        books,
        kind=Transaction.Kind.WITHDRAWAL,
        source=accounts[account.pk],
        target=accounts[world.pk],
        amount=amount,
        rules=rules,
        usage=risk.BatchUsage(),
        reference=reference,
        category=category,
        metadata=metadata,
    )
    books.write()
    return txn


@retry_on_contention
@transaction.atomic
def post_settlement(
    *,
    actor: User | None,
    account_id: int,
    amount_minor: int,
    reference: str = "",
    metadata: dict[str, Any] | None = None,
) -> Transaction:
    """Order settlement: the asset's `vault` account pays `amount_minor` to the account."""
    account, vault = _with_system_account(account_id, Account.System.VAULT)
    return _post_legs(
        actor=actor,
        kind=Transaction.Kind.ORDER_SETTLEMENT,
        legs=[Leg(vault.pk, -amount_minor), Leg(account.pk, amount_minor)],
        reference=reference,
        metadata=metadata or {},
    )


@retry_on_contention
@transaction.atomic
def post_journal(
    *,
    actor: User,
    entries: Sequence[tuple[int, Decimal]],
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
    kind: str = Transaction.Kind.JOURNAL,
) -> Transaction:
    """Any set of signed entries `(account_id, amount)` that sums to zero per asset (staff).

    Raises UnbalancedTransaction, ValidationFailed, NotFound, AccountInactive, InsufficientFunds.
    """
    if len(entries) < 2:
        raise ValidationFailed(
            "A journal needs at least two entries.", {"entries": ["At least two entries."]}
        )
    accounts = lock_accounts(account_id for account_id, _ in entries)
    if len(accounts) != len({account_id for account_id, _ in entries}):
        raise NotFound("No such account.")
    legs = []
    for index, (account_id, amount) in enumerate(entries):
        field_name = f"entries[{index}].amount"
        if amount == 0:
            raise ValidationFailed(
                "Entry amounts cannot be zero.", {field_name: ["Cannot be zero."]}
            )
        magnitude = minor_amount(abs(amount), accounts[account_id].asset, field=field_name)
        legs.append(Leg(account_id, magnitude if amount > 0 else -magnitude))
    return _post_legs(
        actor=actor,
        kind=kind,
        legs=legs,
        accounts=accounts,
        operator_correction=kind == Transaction.Kind.ADJUSTMENT,
        reference=reference,
        category=category,
        metadata=metadata or {},
    )


@retry_on_contention
@transaction.atomic
def reverse_transaction(*, actor: User, transaction_id: int, reason: str = "") -> Transaction:
    """Post a new transaction mirroring a posted one; once only. Raises InvalidState."""
    # Lock order: the transaction row, then its accounts.
    original = Transaction.objects.select_for_update().filter(pk=transaction_id).first()
    if original is None:
        raise NotFound("No such transaction.")
    if original.status != Transaction.Status.POSTED:
        raise InvalidState(
            f"Only posted transactions can be reversed; this one is {original.status}."
        )
    if original.kind == Transaction.Kind.REVERSAL:
        raise InvalidState("A reversal cannot itself be reversed; post a new transaction.")
    if Transaction.objects.filter(reverses=original).exists():
        raise InvalidState("This transaction has already been reversed.")
    legs = [
        Leg(entry.account_id, -entry.amount)
        for entry in Entry.objects.filter(transaction=original).order_by("pk")
    ]
    return _post_legs(
        actor=actor,
        kind=Transaction.Kind.REVERSAL,
        legs=legs,
        operator_correction=True,
        reverses=original,
        reference=f"reversal of {original.public_id}",
        category=original.category,
        metadata={"reason": reason} if reason else {},
    )
