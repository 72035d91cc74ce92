"""The one writer: `Books` applies postings and holds to locked accounts and stores them."""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, cast

from django.db import connection, models, transaction

from accounts.authentication import actor_annotations, ensure_actor_may_move
from accounts.errors import AccountInactive
from accounts.locks import lock_accounts
from accounts.models import Account, Asset, User
from audit.services import record_audits
from ledger.config import Config, config_at, version_expression
from ledger.errors import InsufficientFunds, LimitExceeded, UnbalancedTransaction
from ledger.models import BalanceMonitor, Entry, Transaction
from ledger.representations import transaction_data, transaction_entries
from ledgerflow import metrics
from ledgerflow.errors import NotFound, ValidationFailed
from ledgerflow.money import InvalidAmount, fits_int64, money_text, to_major, to_minor
from ledgerflow.writes import WriteBatch, open_batch
from webhooks.services import record_events


@dataclass(frozen=True)
class Leg:
    """One intended entry: `amount` minor units (signed) on account `account_id`."""

    account_id: int
    amount: int


def minor_amount(amount: Decimal, asset: Asset, field: str = "amount") -> int:
    """Major-unit Decimal -> minor units of `asset`, or a 422 field error."""
    try:
        return to_minor(amount, asset.exponent)
    except InvalidAmount as exc:
        raise ValidationFailed(str(exc), {field: [str(exc)]}) from None


def ensure_movable(accounts: Iterable[Account], *, operator_correction: bool = False) -> None:
    for account in accounts:
        if account.status == Account.Status.ACTIVE:
            continue
        # Operators may still correct a frozen account (e.g. reverse a fraudulent payment).
        if operator_correction and account.status == Account.Status.FROZEN:
            continue
        raise AccountInactive(
            f"Account {account.public_id} is {account.status}.", account=account.public_id
        )


def lock_books(
    actor: User | None,
    ids: Iterable[int] = (),
    *,
    public_ids: Iterable[str] = (),
    deferrable: bool = False,
) -> "Books":
    """Lock the accounts (pk order) with one statement that also reads the configuration
    version, and open a unit of work over them with the configuration of that version."""
    # An actor authenticated from its token alone: is the user still active, the token not
    # revoked, the email verified if required? Read in the same statement (accounts.authentication).
    annotations = {"config_version": version_expression(), **actor_annotations(actor)}
    accounts = lock_accounts(ids, public_ids=public_ids, annotations=annotations)
    ensure_actor_may_move(actor, accounts)
    return Books(accounts, actor, config_of(accounts), deferrable=deferrable)


def config_of(accounts: dict[int, Account]) -> Config:
    """The configuration as of the version read with these accounts' locks (if it was)."""
    first = next(iter(accounts.values()), None)
    return config_at(getattr(first, "config_version", None))


# --- the one writer ------------------------------------------------------------------------


class Books:
    """A unit of work over locked accounts.

    Postings and holds are applied in memory one after another, each checked against the
    running balances (so a batch touching one account many times gets the arithmetic right);
    `write()` then stores everything with bulk statements. Nothing is written if any check
    fails, and the surrounding atomic block rolls back anything partial.
    """

    def __init__(
        self,
        accounts: dict[int, Account],
        actor: User | None,
        config: Config | None = None,
        *,
        deferrable: bool = False,
    ) -> None:
        self.accounts = accounts
        # Rules, monitors and subscribers: cached per configuration version (ledger.config).
        self.config = config or config_of(accounts)
        # May join a write batch its caller opened (callers that use no new row afterwards).
        self.deferrable = deferrable
        self.actor = actor if actor is not None and actor.pk else None
        self.opening = {pk: account.balance for pk, account in accounts.items()}
        self.new_txns: list[Transaction] = []
        self.changed_txns: list[Transaction] = []
        self.entries: list[Entry] = []
        self.events: list[tuple[str, Transaction, list[int]]] = []
        self.dirty: set[int] = set()

    def new_transaction(self, **fields: Any) -> Transaction:
        txn = Transaction(created_by=self.actor, **fields)
        # posted_entries: set here and by post(), not a field (Transaction declares no such
        # attribute for the stubs).
        txn.posted_entries = []  # type: ignore[attr-defined]  # a hold has none; post() sets them (no read before the write)
        self.new_txns.append(txn)
        return txn

    def post(
        self, txn: Transaction, legs: Sequence[Leg], *, operator_correction: bool = False
    ) -> None:
        """Post balanced `legs` as `txn`'s entries, checking funds and policies on the net."""
        missing = {leg.account_id for leg in legs} - self.accounts.keys()
        if missing:
            raise NotFound("No such account.")
        touched = [self.accounts[pk] for pk in sorted({leg.account_id for leg in legs})]
        ensure_movable(touched, operator_correction=operator_correction)
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
        # The representation uses these instead of re-reading (not a field: see above).
        txn.posted_entries = entries  # type: ignore[attr-defined]
        event = "transaction.reversed" if txn.reverses_id else "transaction.posted"
        self.events.append((event, txn, sorted(net)))

    def hold(self, txn: Transaction, source: Account, target: Account, amount: int) -> None:
        """Reserve `amount`: the source's available funds fall, no balance moves."""
        ensure_movable([source, target])
        if not source.allow_negative and source.spendable < amount:
            raise self._insufficient(source, amount)
        if target.max_balance is not None and (
            target.balance + target.pending_credits + amount > target.max_balance
        ):
            raise self._over_max(target)
        if not (
            fits_int64(source.pending_debits + amount)
            and fits_int64(target.pending_credits + amount)
        ):
            raise ValidationFailed(
                "The amount held would not fit in 64 bits.",
                {"amount": ["Too large for these accounts' pending holds."]},
            )
        source.pending_debits += amount
        target.pending_credits += amount
        txn.status = Transaction.Status.PENDING
        txn.hold_from, txn.hold_to, txn.held_amount = source, target, amount
        self.dirty.update((source.pk, target.pk))
        self.events.append(("transaction.pending", txn, [source.pk, target.pk]))

    def release(self, txn: Transaction) -> None:
        """Give back what `txn` holds (before posting part of it, or voiding it)."""
        # Every hold has all three (nullable for the other statuses).
        held = cast(int, txn.held_amount)
        source = self.accounts[cast(int, txn.hold_from_id)]
        target = self.accounts[cast(int, txn.hold_to_id)]
        source.pending_debits -= held
        target.pending_credits -= held
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
        # Major units with the code, as the caller sent the amount (DESIGN: detail is for people).
        has, needs = money_text(account.spendable, account.asset), money_text(needed, account.asset)
        return InsufficientFunds(
            f"Account {account.public_id} has {has} available, needs {needs}.",
            account=account.public_id,
        )

    @staticmethod
    def _over_max(account: Account) -> LimitExceeded:
        ceiling = money_text(cast(int, account.max_balance), account.asset)  # only when set
        return LimitExceeded(
            f"Account {account.public_id} would exceed its maximum balance of {ceiling}.",
            rule="max_balance",
            account=account.public_id,
        )

    def write(self) -> None:
        """Store everything as one statement (ledgerflow.writes): transactions, entries,
        balances, events and deliveries. A `deferrable` unit joins the batch its caller
        opened (the idempotency layer adds its record and flushes both together)."""
        batch = open_batch() if self.deferrable else None
        deferred = batch is not None
        batch = batch or WriteBatch()
        # Holds settled or voided: their status and amount change (never a posted row's).
        for txn in self.changed_txns:
            batch.execute(
                "UPDATE ledger_transaction SET status = %s, amount = %s WHERE id = %s",
                [txn.status, txn.amount, txn.pk],
            )
        txns = batch.insert(Transaction, self.new_txns, returning=True)
        # Entries of a new transaction name it by public id (it gets its id in the same
        # statement); those of a hold being posted know its id already.
        batch.insert(Entry, [e for e in self.entries if e.transaction.pk is not None])
        batch.insert(
            Entry,
            [e for e in self.entries if e.transaction.pk is None],
            parent=("transaction", txns, "public_id"),
        )
        store_balances(batch, [self.accounts[pk] for pk in sorted(self.dirty)])
        data = {id(txn): transaction_data(txn) for _, txn, _ in self.events}
        events = []
        for event_type, txn, account_ids in self.events:
            accounts = [self.accounts[pk] for pk in account_ids]
            # Per recipient: each owner is shown the balances of its own entries only.
            owned: dict[int, list[int]] = {a.owner_id: [] for a in accounts if a.owner_id}
            for position, entry in enumerate(transaction_entries(txn)):
                if entry.account.owner_id in owned:
                    owned[entry.account.owner_id].append(position)
            events.append((event_type, data[id(txn)], accounts, owned))
        record_events(
            events + self._monitor_events(), subscribers=self.config.subscribers, batch=batch
        )
        # The audit log keeps every movement an operator (staff or API key) initiated, and
        # every transfer a risk rule sent to review, in the same transaction as the money
        # (once the transactions have their ids).
        staff = self.actor is not None and self.actor.is_staff
        audits: list[tuple[str, models.Model | None, dict[str, Any] | None, dict[str, Any] | None]]
        audits = [
            (f"money.{txn.kind}.{event_type.rpartition('.')[2]}", txn, None, data[id(txn)])
            for event_type, txn, _ in self.events
            if staff or txn.hold_reason == Transaction.HoldReason.REVIEW
        ]
        if audits:

            def write_audits() -> None:
                record_audits(self.actor, audits)

            batch.after_flush.append(write_audits)
        if not deferred:
            batch.flush()
        self._count()

    def _monitor_events(
        self,
    ) -> list[tuple[str, dict[str, Any], list[Account], dict[int, list[int]]]]:
        moved = [pk for pk in sorted(self.dirty) if self.accounts[pk].balance != self.opening[pk]]
        if not moved:
            return []
        crossings: list[tuple[str, dict[str, Any], list[Account], dict[int, list[int]]]] = []
        for monitor in self.config.monitors_of(moved):
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
                crossings.append(("balance.threshold_crossed", data, [account], {}))
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


def store_balances(batch: WriteBatch, accounts: Sequence[Account]) -> None:
    """Balances, versions and pending amounts of the touched accounts, as one UPDATE.

    PostgreSQL: `UPDATE … FROM unnest(arrays)` (five parameters whatever the number of
    accounts); SQLite: `UPDATE … FROM (VALUES …)` in chunks under its parameter limit.
    Django's bulk_update builds a CASE expression per column and row in Python; on the hot
    path of every transfer that cost more than the statement itself.
    """
    if not accounts:
        return
    columns = ("balance", "version", "pending_debits", "pending_credits")
    if connection.vendor == "postgresql":
        batch.execute(
            "UPDATE accounts_account SET balance = v.balance, version = v.version, "
            "pending_debits = v.pending_debits, pending_credits = v.pending_credits "
            "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
            "AS v(id, balance, version, pending_debits, pending_credits) "
            "WHERE accounts_account.id = v.id",
            [[a.pk for a in accounts], *([getattr(a, c) for a in accounts] for c in columns)],
        )
        return
    for start in range(0, len(accounts), 500):  # stay under SQLite's bound-parameter limit
        chunk = accounts[start : start + 500]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params = [value for a in chunk for value in (a.pk, *(getattr(a, c) for c in columns))]
        # Only "%s" placeholders are formatted in; the values travel as parameters.
        batch.execute(
            "UPDATE accounts_account SET balance = v.column2, version = v.column3, "  # noqa: S608  # nosec B608
            "pending_debits = v.column4, pending_credits = v.column5 "
            f"FROM (VALUES {rows}) AS v WHERE accounts_account.id = v.column1",
            params,
        )
