"""Celery tasks of reporting: thin wrappers over reporting.services, each safe to run twice.

Services import this module (to enqueue), so each task imports its service when it runs.
The tasks keep the names they had in the ledger app (`ledger.tasks.*`): beat's PeriodicTask
rows (ledger migrations 0004, 0011), CELERY_TASK_ROUTES and messages already queued name them
so. They all go to the "reports" queue (CELERY_TASK_ROUTES), never in front of webhook
deliveries. Limits and redelivery as in ledger/tasks.py.
"""

from datetime import timedelta

from celery import shared_task

# One export build may run this long: Celery kills it then (reporting.services.EXPORT_LEASE
# waits this out before another run takes over an export whose worker died).
EXPORT_TIME_LIMIT = timedelta(minutes=31)

# Safe to run twice, redelivered if the process running it is killed.
REDELIVERED = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(name="ledger.tasks.take_snapshots", **REDELIVERED, soft_time_limit=600, time_limit=660)
def take_snapshots() -> int:
    """Beat (SNAPSHOT_SCHEDULE): snapshot the accounts that changed since their last one."""
    from reporting.services import take_snapshots as run

    return run()


@shared_task(
    name="ledger.tasks.run_export",
    **REDELIVERED,
    soft_time_limit=int(EXPORT_TIME_LIMIT.total_seconds()) - 60,
    time_limit=int(EXPORT_TIME_LIMIT.total_seconds()),
)
def run_export(export_id: int) -> None:
    """Enqueued on commit of POST /exports: build the CSV."""
    from reporting.services import build_export

    build_export(export_id=export_id)


@shared_task(
    name="ledger.tasks.requeue_exports", ignore_result=True, soft_time_limit=60, time_limit=90
)
def requeue_exports() -> int:
    """Beat, every 30 seconds: re-enqueue pending exports and stale running ones (lost)."""
    from reporting.services import requeue_exports as run

    return run()


@shared_task(name="ledger.tasks.purge_exports", **REDELIVERED, soft_time_limit=600, time_limit=660)
def purge_exports() -> int:
    """Beat, daily: delete export files older than EXPORT_RETENTION_DAYS."""
    from reporting.services import purge_exports as run

    return run()


@shared_task(name="ledger.tasks.verify_ledger", **REDELIVERED, soft_time_limit=600, time_limit=660)
def verify_ledger() -> int:
    """Beat, every 15 minutes: re-check the invariants; sets the gauges, keeps the result."""
    from reporting.services import record_verification

    return record_verification().violation_count
