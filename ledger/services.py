"""The only code that writes money.

Every movement runs in one `transaction.atomic()`: lock the touched accounts in primary-key
order, check status, asset and funds, write the transaction, its entries (with `balance_after`
and the account version) and the new balances, record the outbox event, commit. Contention is
retried by `retry_on_contention` (outermost call only).
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.errors import AccountInactive
from accounts.locks import lock_accounts
from accounts.models import Account, Asset, User
from accounts.services import system_account
from ledger.errors import AssetMismatch, InsufficientFunds, UnbalancedTransaction
from ledger.models import Entry, Transaction
from ledger.representations import transaction_data
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import InvalidState, NotFound, ValidationFailed
from ledgerflow.money import InvalidAmount, fits_int64, to_minor
from webhooks.services import record_event


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


# --- the one writer ------------------------------------------------------------------------


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


def _apply_legs(txn: Transaction, legs: Sequence[Leg], accounts: dict[int, Account]) -> list[Entry]:
    """Check funds and write entries + balances. Accounts are locked by the caller.

    Funds are checked on the final balances, so a journal touching one account many times is
    judged on its net effect. Nothing is written until every check has passed.
    """
    new_balance = {pk: account.balance for pk, account in accounts.items()}
    for leg in legs:
        new_balance[leg.account_id] += leg.amount
    for pk, balance in new_balance.items():
        account = accounts[pk]
        if not fits_int64(balance):
            raise ValidationFailed(
                "The resulting balance would not fit in 64 bits.",
                {"amount": ["Too large for this account."]},
            )
        if not account.allow_negative and balance - account.pending_debits < 0:
            raise InsufficientFunds(
                f"Account {account.public_id} has {account.available} available, "
                f"needs {account.balance - balance}.",
                account=account.public_id,
            )
    entries = []
    for leg in legs:
        account = accounts[leg.account_id]
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
    Entry.objects.bulk_create(entries)
    for pk in sorted({leg.account_id for leg in legs}):
        accounts[pk].save(update_fields=["balance", "version"])
    txn.posted_entries = entries  # the representation uses these instead of re-reading
    return entries


def _post(
    *,
    actor: User | None,
    kind: str,
    legs: Sequence[Leg],
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
    reverses: Transaction | None = None,
    operator_correction: bool = False,
    accounts: dict[int, Account] | None = None,
) -> Transaction:
    """Lock, check and post one balanced transaction. Callers run inside atomic()."""
    if accounts is None:
        accounts = lock_accounts(leg.account_id for leg in legs)
    missing = {leg.account_id for leg in legs} - accounts.keys()
    if missing:
        raise NotFound("No such account.")
    _ensure_movable(accounts.values(), operator_correction=operator_correction)

    per_asset: dict[int, int] = defaultdict(int)
    for leg in legs:
        per_asset[accounts[leg.account_id].asset_id] += leg.amount
    if any(per_asset.values()):
        raise UnbalancedTransaction(
            "Entries must sum to zero per asset.", {"entries": ["Entries do not balance."]}
        )
    headline = next(leg for leg in legs if leg.amount > 0)
    asset = accounts[headline.account_id].asset
    amount = sum(
        leg.amount
        for leg in legs
        if leg.amount > 0 and accounts[leg.account_id].asset_id == asset.pk
    )
    txn = Transaction(
        kind=kind,
        status=Transaction.Status.POSTED,
        asset=asset,
        amount=amount,
        reference=reference,
        category=category,
        metadata=metadata or {},
        created_by=actor if actor and actor.pk else None,
        reverses=reverses,
    )
    try:
        txn.save(force_insert=True)
        _apply_legs(txn, legs, accounts)
    except InsufficientFunds:
        _count_refusal(kind, "insufficient_funds")
        raise
    touched = [accounts[pk] for pk in sorted({leg.account_id for leg in legs})]
    event_type = "transaction.reversed" if reverses else "transaction.posted"
    record_event(event_type, transaction_data(txn), accounts=touched)
    _count_success(kind, asset.code, amount)
    return txn


def _count_success(kind: str, asset_code: str, amount: int) -> None:
    def count() -> None:
        metrics.TRANSFERS.labels(kind=kind, outcome="posted").inc()
        metrics.TRANSFER_VOLUME.labels(asset=asset_code).inc(amount)

    transaction.on_commit(count)


def _count_refusal(kind: str, outcome: str) -> None:
    metrics.TRANSFERS.labels(kind=kind, outcome=outcome).inc()
    if outcome == "insufficient_funds":
        metrics.INSUFFICIENT_FUNDS.inc()


# --- public services ----------------------------------------------------------------------


@retry_on_contention
@transaction.atomic
def post_transfer(
    *,
    actor: User,
    from_account_id: int,
    to_account_id: int,
    amount: Decimal,
    reference: str = "",
    category: str = "",
    metadata: dict[str, Any] | None = None,
    kind: str = Transaction.Kind.TRANSFER,
) -> Transaction:
    """Move `amount` between two accounts of one asset.

    Raises ValidationFailed (same account, bad amount), NotFound, AccountInactive,
    AssetMismatch, InsufficientFunds.
    """
    if from_account_id == to_account_id:
        raise ValidationFailed(
            "Cannot transfer to the same account.", {"to_account": ["Same as from_account."]}
        )
    accounts = lock_accounts([from_account_id, to_account_id])
    if len(accounts) != 2:
        raise NotFound("No such account.")
    source, target = accounts[from_account_id], accounts[to_account_id]
    if source.asset_id != target.asset_id:
        raise AssetMismatch(
            f"{source.public_id} holds {source.asset.code}, "
            f"{target.public_id} holds {target.asset.code}."
        )
    minor = minor_amount(amount, source.asset)
    return _post(
        actor=actor,
        kind=kind,
        legs=[Leg(source.pk, -minor), Leg(target.pk, minor)],
        reference=reference,
        category=category,
        metadata=metadata,
        accounts=accounts,
    )


def _system_movement(
    *,
    actor: User,
    account_id: int,
    amount: Decimal,
    direction: int,
    kind: str,
    system_code: str,
    reference: str,
    category: str,
    metadata: dict[str, Any] | None,
) -> Transaction:
    account = Account.objects.select_related("asset").filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such account.")
    system = system_account(asset=account.asset, system_code=system_code)
    minor = minor_amount(amount, account.asset)
    return _post(
        actor=actor,
        kind=kind,
        legs=[Leg(system.pk, -direction * minor), Leg(account.pk, direction * minor)],
        reference=reference,
        category=category,
        metadata=metadata,
    )


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
    return _system_movement(
        actor=actor,
        account_id=account_id,
        amount=amount,
        direction=1,
        kind=Transaction.Kind.DEPOSIT,
        system_code=Account.System.WORLD,
        reference=reference,
        category=category,
        metadata=metadata,
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
    """Money out to the asset's `world` account. Raises AccountInactive, InsufficientFunds."""
    return _system_movement(
        actor=actor,
        account_id=account_id,
        amount=amount,
        direction=-1,
        kind=Transaction.Kind.WITHDRAWAL,
        system_code=Account.System.WORLD,
        reference=reference,
        category=category,
        metadata=metadata,
    )


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
    account = Account.objects.select_related("asset").get(pk=account_id)
    vault = system_account(asset=account.asset, system_code=Account.System.VAULT)
    return _post(
        actor=actor,
        kind=Transaction.Kind.ORDER_SETTLEMENT,
        legs=[Leg(vault.pk, -amount_minor), Leg(account.pk, amount_minor)],
        reference=reference,
        metadata=metadata,
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
        field = f"entries[{index}].amount"
        if amount == 0:
            raise ValidationFailed("Entry amounts cannot be zero.", {field: ["Cannot be zero."]})
        magnitude = minor_amount(abs(amount), accounts[account_id].asset, field=field)
        legs.append(Leg(account_id, magnitude if amount > 0 else -magnitude))
    return _post(
        actor=actor,
        kind=kind,
        legs=legs,
        reference=reference,
        category=category,
        metadata=metadata,
        accounts=accounts,
        operator_correction=kind == Transaction.Kind.ADJUSTMENT,
    )


@retry_on_contention
@transaction.atomic
def reverse_transaction(*, actor: User, transaction_id: int, reason: str = "") -> Transaction:
    """Post a new transaction mirroring a posted one; once only. Raises InvalidState."""
    original = (
        Transaction.objects.select_for_update().filter(pk=transaction_id).first()
    )  # lock order: the transaction row, then its accounts
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
    return _post(
        actor=actor,
        kind=Transaction.Kind.REVERSAL,
        legs=legs,
        reference=f"reversal of {original.public_id}",
        category=original.category,
        metadata={"reason": reason} if reason else {},
        reverses=original,
        operator_correction=True,
    )
