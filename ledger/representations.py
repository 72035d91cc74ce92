"""How ledger rows look outside: one function per resource, shared by the API and events."""

from typing import Any

from ledger.models import Entry, Transaction
from ledgerflow.money import to_major


def entry_data(entry: Entry, exponent: int) -> dict[str, Any]:
    return {
        "account": entry.account.public_id,
        "amount": to_major(entry.amount, exponent),
        "balance_after": to_major(entry.balance_after, exponent),
        "version": entry.account_version,
    }


def transaction_entries(txn: Transaction) -> list[Entry]:
    entries = getattr(txn, "posted_entries", None)
    if entries is None:
        entries = list(txn.entries.select_related("account__asset").order_by("pk"))
    return entries


def transaction_data(txn: Transaction) -> dict[str, Any]:
    exponent = txn.asset.exponent
    # Entries of a multi-asset journal use their own asset's exponent.
    exponents = {txn.asset_id: exponent}
    entries = []
    for entry in transaction_entries(txn):
        if entry.asset_id not in exponents:
            exponents[entry.asset_id] = entry.account.asset.exponent
        entries.append(entry_data(entry, exponents[entry.asset_id]))
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
        "reverses": txn.reverses.public_id if txn.reverses_id else None,
        "expires_at": txn.expires_at.isoformat().replace("+00:00", "Z") if txn.expires_at else None,
        "hold_reason": txn.hold_reason or None,
        "entries": entries,
    }
