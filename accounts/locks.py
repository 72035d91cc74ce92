"""Row-lock helpers.

Lock order everywhere: idempotency record -> Order -> Transaction -> Account (ascending pk).
"""

from collections.abc import Iterable

from accounts.models import Account


def lock_accounts(ids: Iterable[int]) -> dict[int, Account]:
    """Lock the accounts in primary-key order (no deadlocks between movements) and return them."""
    rows = (
        Account.objects.filter(pk__in=set(ids))
        .select_related("asset")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    return {row.pk: row for row in rows}
