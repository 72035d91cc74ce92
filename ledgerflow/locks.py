"""The one lock order of the write paths: deadlock freedom rests on it.

A database transaction that row-locks more than one kind of row takes them in this order,
and rows of one kind in ascending primary key:

1. orders.Order               (orders/locks.py: an order's transition, then its settlement)
2. ledger.AdjustmentRequest   (ledger/locks.py: the request, then the accounts it moves)
3. ledger.Transaction         (ledger/locks.py: a hold being settled, a transaction reversed)
4. accounts.Account           (accounts/locks.py: every movement's accounts, one statement)
5. accounts.User              (accounts/locks.py: per-user risk rules, login lockout counts)

Locked alone, each in a transaction of its own: webhooks.Delivery (webhooks/locks.py) and a
refresh token's OutstandingToken row (accounts/locks.py). The idempotency record is not
locked: it is inserted last, with the effect, and its unique constraint decides a race
(ledgerflow/idempotency.py).

Row locks are taken only through the apps' `locks.py` modules
(ledgerflow/tests/test_lock_sites.py fails on a `select_for_update` anywhere else).
"""

LOCK_ORDER = (
    "orders.Order",
    "ledger.AdjustmentRequest",
    "ledger.Transaction",
    "accounts.Account",
    "accounts.User",
)
