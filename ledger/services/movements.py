"""Money in and out (world, vault), journals and reversals."""

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.db import transaction

from accounts.models import Account, User
from accounts.services import system_account
from ledger import risk
from ledger.locks import lock_transaction
from ledger.models import Entry, Transaction
from ledger.services.books import Books, Leg, lock_books, minor_amount
from ledger.services.transfers import TransferItem, debit, open_books
from ledgerflow import metrics
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import DomainError, InvalidState, NotFound, ValidationFailed
from ledgerflow.money import fits_int64


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
        accounts = lock_books(actor, [leg.account_id for leg in legs]).accounts
    if {leg.account_id for leg in legs} - accounts.keys():
        raise NotFound("No such account.")
    headline = next(leg for leg in legs if leg.amount > 0)
    asset = accounts[headline.account_id].asset
    # Each asset's total in (the headline amount, or a reversal's later) must fit the column.
    totals: dict[int, int] = defaultdict(int)
    for leg in legs:
        if leg.amount > 0:
            totals[accounts[leg.account_id].asset_id] += leg.amount
    if not all(fits_int64(total) for total in totals.values()):
        raise ValidationFailed(
            "The entries' total would not fit in 64 bits.",
            {"entries": ["The amounts add up to more than an asset can hold."]},
        )
    amount = totals[asset.pk]
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
    item = TransferItem(
        from_account_id=account.pk,
        to_account_id=world.pk,
        amount=amount,
        reference=reference,
        category=category,
        metadata=metadata or {},
    )
    books, rules, _ = open_books(actor, [item])
    accounts = books.accounts
    try:
        txn = debit(
            books,
            item,
            kind=Transaction.Kind.WITHDRAWAL,
            source=accounts[account.pk],
            target=accounts[world.pk],
            rules=rules,
            usage=risk.BatchUsage(),
        )
    except DomainError as exc:
        metrics.TRANSFERS.labels(kind=Transaction.Kind.WITHDRAWAL, outcome=exc.code).inc()
        raise
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
    accounts = lock_books(actor, [account_id for account_id, _ in entries]).accounts
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
    original = lock_transaction(transaction_id)
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
