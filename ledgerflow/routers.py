"""Which database a read uses: the primary, or the streaming replica for reads that tolerate lag.

Routing is opt-in. Every write and every read goes to the primary ("default") unless the code asks
for `read_replica()` explicitly; today that is the reporting app only (reporting/selectors.py and
reporting/csv_export.py: balance snapshots, period summaries, CSV export rows), whose API
documents that it may lag a moment.
Money reads never go there: balances checked before moving money, row locks, anything inside a
money transaction, idempotency records, users, API keys and login lockouts all use the default
alias, which is what `ReplicaRouter` answers for every model. Statements and balances as of a
version stay on the primary too: a client reads them right after its own transfer and expects
to see it, and a balance at a version the primary just reported may not have been replayed yet.

`read_replica()` also falls back to the primary, so a reporting read is never wrong about its
own transaction and never fails because of the replica:
- inside a transaction on the primary (`atomic`): the read must see the transaction's own writes;
- when the replica lags more than REPLICA_MAX_LAG seconds (checked at most every
  REPLICA_CHECK_INTERVAL seconds per process, one small query on the replica) or is down
  (asked again after REPLICA_RETRY_AFTER seconds);
- when the alias mirrors the primary (Django's test MIRROR): there is no replica to ask.
"""

import logging
import threading
import time

from django.db import DatabaseError, connections, models

REPLICA = "replica"
logger = logging.getLogger("ledgerflow.routers")

# Fresh when a WAL receiver is running and replay has applied everything received, or the last
# transaction replayed committed on the primary less than %s seconds ago. (A replay timestamp
# alone would call an idle, fully caught-up standby stale.)
REPLICA_FRESH_SQL = """
    SELECT pg_is_in_recovery()
       AND EXISTS (SELECT 1 FROM pg_stat_wal_receiver)
       AND (pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()
            OR clock_timestamp() - pg_last_xact_replay_timestamp() < make_interval(secs => %s))
"""


class ReplicaRouter:
    """Every model reads and writes on the primary; lagging reads opt in with `read_replica()`."""

    def db_for_read(self, model: type[models.Model], **hints) -> str:
        return "default"

    def db_for_write(self, model: type[models.Model], **hints) -> str:
        return "default"

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints) -> bool:
        return db == "default"


class _Health:
    """The replica's last known state in this process (shared by its threads)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.checked_at = float("-inf")
        self.fresh = False

    def reset(self) -> None:
        with self.lock:
            self.checked_at = float("-inf")
            self.fresh = False


health = _Health()


def read_replica() -> str:
    """The alias for a read that tolerates lag: "replica" when it is usable, else "default"."""
    from django.conf import settings

    if REPLICA not in settings.DATABASES:
        return "default"
    if connections["default"].in_atomic_block:
        return "default"
    replica = connections[REPLICA]
    if replica.settings_dict is connections["default"].settings_dict:
        return "default"  # a test mirror: the alias is the primary's connection settings
    return REPLICA if _replica_is_fresh(replica, settings) else "default"


def _replica_is_fresh(replica, settings) -> bool:
    now = time.monotonic()
    interval = getattr(settings, "REPLICA_CHECK_INTERVAL", 1.0)
    with health.lock:
        if now - health.checked_at < interval:
            return health.fresh
        health.checked_at = now  # other threads use the last answer while this one asks
    try:
        with replica.cursor() as cursor:
            cursor.execute(REPLICA_FRESH_SQL, [getattr(settings, "REPLICA_MAX_LAG", 5.0)])
            fresh = bool(cursor.fetchone()[0])
    except DatabaseError as exc:
        logger.warning("replica unusable, reporting reads use the primary: %s", exc)
        replica.close()
        fresh = False
        # Down (or dropping packets): do not pay a connect timeout every interval.
        retry_after = getattr(settings, "REPLICA_RETRY_AFTER", 10.0)
        with health.lock:
            health.checked_at = time.monotonic() + max(0.0, retry_after - interval)
    if fresh != health.fresh:
        logger.info("replica %s", "in use" if fresh else "stale or down: reads use the primary")
    health.fresh = fresh
    return fresh
