"""Celery tasks of the ledger: thin wrappers over services, each safe to run twice.

Services import this module (to enqueue), so each task imports its service when it runs.
Every task has a soft and a hard time limit (seconds). Those that are safe to run again are
redelivered when their pool process dies mid-run (reject_on_worker_lost with acks_late); the
periodic sweeps need not be: the next tick runs them anyway. Reports (exports, snapshots,
verify_ledger, purges) go to the "reports" queue (CELERY_TASK_ROUTES) so they never delay
webhook deliveries.
"""

from datetime import timedelta

from celery import shared_task

# One export build may run this long: Celery kills it then (ledger.reporting.EXPORT_LEASE
# waits this out before another run takes over an export whose worker died).
EXPORT_TIME_LIMIT = timedelta(minutes=31)

# Safe to run twice, redelivered if the process running it is killed.
REDELIVERED = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**REDELIVERED, soft_time_limit=600, time_limit=660)
def take_snapshots() -> int:
    """Beat (SNAPSHOT_SCHEDULE): snapshot the accounts that changed since their last one."""
    from ledger.reporting import take_snapshots as run

    return run()


@shared_task(
    **REDELIVERED,
    soft_time_limit=int(EXPORT_TIME_LIMIT.total_seconds()) - 60,
    time_limit=int(EXPORT_TIME_LIMIT.total_seconds()),
)
def run_export(export_id: int) -> None:
    """Enqueued on commit of POST /exports: build the CSV."""
    from ledger.reporting import build_export

    build_export(export_id=export_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def requeue_exports() -> int:
    """Beat, every 5 minutes: re-enqueue pending exports and stale running ones (lost)."""
    from ledger.reporting import requeue_exports as run

    return run()


@shared_task(**REDELIVERED, soft_time_limit=600, time_limit=660)
def purge_exports() -> int:
    """Beat, daily: delete export files older than EXPORT_RETENTION_DAYS."""
    from ledger.reporting import purge_exports as run

    return run()


@shared_task(**REDELIVERED, soft_time_limit=600, time_limit=660)
def purge_idempotency_keys() -> int:
    """Beat, hourly: delete idempotency records past IDEMPOTENCY_TTL."""
    from ledger.idempotency import purge_expired_keys

    return purge_expired_keys()


@shared_task(**REDELIVERED, soft_time_limit=600, time_limit=660)
def verify_ledger() -> int:
    """Beat, every 15 minutes: re-check the invariants; sets the gauges, keeps the result."""
    from ledger.reporting import record_verification

    return record_verification().violation_count


@shared_task(**REDELIVERED, soft_time_limit=120, time_limit=150)
def expire_holds() -> int:
    """Beat, every minute: void two-phase holds past their expires_at."""
    from ledger.services import expire_holds as run

    return run()
