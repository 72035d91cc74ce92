"""`verify_ledger`: re-check the invariants of DESIGN §3 over the whole ledger, set-based.

1. every transaction's entries sum to zero per asset;
2. every account's balance = sum of its entries = its last entry's `balance_after`, and its
   entry versions run 1..version with no gaps;
3. no account without `allow_negative` has available funds below -overdraft_limit;
4. every account's pending_debits/pending_credits = the held amounts of the open (pending)
   holds it pays/receives.
Each check is one aggregate query, whatever the size of the ledger.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection
from django.utils import timezone

CHECKS: dict[str, str] = {
    "unbalanced_transactions": """
        SELECT transaction_id, asset_id, SUM(amount)
          FROM ledger_entry
         GROUP BY transaction_id, asset_id
        HAVING SUM(amount) <> 0
    """,
    "balance_differs_from_entries": """
        SELECT a.id, a.balance, COALESCE(e.total, 0), COALESCE(e.entries, 0), a.version
          FROM accounts_account a
          LEFT JOIN (SELECT account_id, SUM(amount) AS total, COUNT(*) AS entries,
                            MAX(account_version) AS last_version
                       FROM ledger_entry GROUP BY account_id) e ON e.account_id = a.id
         WHERE a.balance <> COALESCE(e.total, 0)
            OR a.version <> COALESCE(e.entries, 0)
            OR a.version <> COALESCE(e.last_version, 0)
    """,
    "balance_differs_from_last_balance_after": """
        SELECT a.id, a.balance, le.balance_after
          FROM accounts_account a
          JOIN ledger_entry le ON le.account_id = a.id AND le.account_version = a.version
         WHERE le.balance_after <> a.balance
    """,
    "negative_available": """
        SELECT id, balance, pending_debits, overdraft_limit
          FROM accounts_account
         WHERE NOT allow_negative AND balance - pending_debits < -overdraft_limit
    """,
    # Open holds are the pending transactions (the status index finds them); a posted or
    # voided hold has released what it held.
    "pending_differs_from_holds": """
        SELECT a.id, a.pending_debits, COALESCE(d.held, 0), a.pending_credits, COALESCE(c.held, 0)
          FROM accounts_account a
          LEFT JOIN (SELECT hold_from_id AS account_id, SUM(held_amount) AS held
                       FROM ledger_transaction WHERE status = 'pending'
                      GROUP BY hold_from_id) d ON d.account_id = a.id
          LEFT JOIN (SELECT hold_to_id AS account_id, SUM(held_amount) AS held
                       FROM ledger_transaction WHERE status = 'pending'
                      GROUP BY hold_to_id) c ON c.account_id = a.id
         WHERE a.pending_debits <> COALESCE(d.held, 0)
            OR a.pending_credits <> COALESCE(c.held, 0)
    """,
}


@dataclass
class VerificationResult:
    checked_at: datetime
    counts: dict[str, int] = field(default_factory=dict)  # check name -> offending rows
    samples: dict[str, list[tuple]] = field(default_factory=dict)

    @property
    def violation_count(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        return self.violation_count == 0


def verify_ledger(
    *, sample: int = 5, progress: Callable[[int, int | None], None] | None = None
) -> VerificationResult:
    """Run every check; keep up to `sample` offending rows per check for the report.

    `progress(checks done, checks in all)` is called after each check.
    """
    result = VerificationResult(checked_at=timezone.now())
    with connection.cursor() as cursor:
        for done, (name, sql) in enumerate(CHECKS.items(), start=1):
            cursor.execute(f"SELECT COUNT(*) FROM ({sql}) AS offending")  # noqa: S608 - constant  # nosec B608
            (count,) = cursor.fetchone()
            result.counts[name] = count
            if count:
                cursor.execute(f"{sql} LIMIT {int(sample)}")
                result.samples[name] = cursor.fetchall()
            if progress:
                progress(done, len(CHECKS))
    return result
