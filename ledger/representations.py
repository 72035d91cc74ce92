"""How ledger rows look outside: one function per resource, shared by the API and events."""

from typing import Any

from ledger.models import Entry, Transaction
from ledgerflow.money import to_major

# `shown_to`: None renders every entry whole (staff who may see any account, the audit log,
# stored events); an owner's user id renders `balance_after` and `version` only on that
# owner's entries, so a payee never learns the payer's balance.
ALL = None


def entry_data(entry: Entry, exponent: int, shown_to: int | None = ALL) -> dict[str, Any]:
    data: dict[str, Any] = {
        "account": entry.account.public_id,
        "amount": to_major(entry.amount, exponent),
    }
    if shown_to is ALL or entry.account.owner_id == shown_to:
        data["balance_after"] = to_major(entry.balance_after, exponent)
        data["version"] = entry.account_version
    return data


def transaction_entries(txn: Transaction) -> list[Entry]:
    entries = getattr(txn, "posted_entries", None)
    if entries is None:
        entries = list(txn.entries.select_related("account__asset").order_by("pk"))
    return entries


def transaction_data(txn: Transaction, shown_to: int | None = ALL) -> dict[str, Any]:
    exponent = txn.asset.exponent
    # Entries of a multi-asset journal use their own asset's exponent.
    exponents = {txn.asset_id: exponent}
    entries = []
    for entry in transaction_entries(txn):
        if entry.asset_id not in exponents:
            exponents[entry.asset_id] = entry.account.asset.exponent
        entries.append(entry_data(entry, exponents[entry.asset_id], shown_to))
    return {
        "id": txn.public_id,
        "kind": txn.kind,
        "status": txn.status,
        "reference": txn.reference,
        "category": txn.category,
        "metadata": txn.metadata,
        "amount": to_major(txn.amount, exponent),
        "asset": txn.asset.code,
        "created_at": txn.created_at.isoformat().replace("+00:00", "Z"),
        "reverses": txn.reverses.public_id if txn.reverses is not None else None,
        "expires_at": txn.expires_at.isoformat().replace("+00:00", "Z") if txn.expires_at else None,
        "hold_reason": txn.hold_reason or None,
        "entries": entries,
    }
