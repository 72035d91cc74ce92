"""What the fault tests check of the books afterwards, read straight from the database.

"Money is conserved": every asset's balances sum to what they summed to before (deposits
come from the asset's world account, so they move money without creating it), and every
account's balance is the sum of its entries and its last entry's `balance_after`.
"""

from collections import Counter

from django.core.management import call_command
from django.db.models import Sum

from accounts.models import Account
from ledger.models import Entry, Transaction


def asset_totals() -> dict[str, int]:
    """Sum of the balances of every account (system ones included), per asset code."""
    rows = (
        Account.objects.order_by()
        .values_list("asset__code")
        .annotate(total=Sum("balance"))
        .values_list("asset__code", "total")
    )
    return dict(rows)


def balances(accounts) -> dict[int, int]:
    return dict(
        Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("pk", "balance")
    )


def accounts_off_their_entries() -> list[tuple[int, int, int, int | None]]:
    """(account, balance, sum of entries, last balance_after) of every account that disagrees."""
    sums = dict(
        Entry.objects.order_by()
        .values_list("account_id")
        .annotate(total=Sum("amount"))
        .values_list("account_id", "total")
    )
    last_after = dict(
        Entry.objects.order_by("account_id", "-account_version")
        .distinct("account_id")
        .values_list("account_id", "balance_after")
    )
    wrong = []
    for pk, balance in Account.objects.values_list("pk", "balance"):
        total, after = sums.get(pk, 0), last_after.get(pk, 0 if pk not in sums else None)
        if balance != total or balance != after:
            wrong.append((pk, balance, total, after))
    return wrong


def assert_money_conserved(totals_before: dict[str, int]) -> None:
    assert asset_totals() == totals_before
    assert accounts_off_their_entries() == []
    call_command("verify_ledger", verbosity=0)  # CommandError on any violated invariant


def references_seen(references) -> Counter:
    """How many transactions carry each of `references` (each key's transfer uses its key)."""
    return Counter(
        Transaction.objects.filter(reference__in=list(references)).values_list(
            "reference", flat=True
        )
    )
