"""Row locks on ledger rows taken before their accounts' (the order: ledgerflow/locks.py)."""

from ledger.models import AdjustmentRequest, Transaction


def lock_transaction(transaction_id: int) -> Transaction | None:
    """A transaction's row, locked (a hold being settled, a transaction being reversed),
    with its asset; None if there is none. Its accounts are locked after it."""
    return (
        Transaction.objects.select_for_update(of=("self",))
        .select_related("asset")
        .filter(pk=transaction_id)
        .first()
    )


def lock_adjustment_request(adjustment_id: int) -> AdjustmentRequest | None:
    """An adjustment request's row, locked (one decision), with its account and asset."""
    return (
        AdjustmentRequest.objects.select_for_update(of=("self",))
        .select_related("account__asset")
        .filter(pk=adjustment_id)
        .first()
    )
