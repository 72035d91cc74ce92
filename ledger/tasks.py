"""Celery tasks of the ledger: thin wrappers over services, each safe to run twice.

Services import this module (to enqueue), so each task imports its service when it runs.
"""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def take_snapshots() -> int:
    """Beat (SNAPSHOT_SCHEDULE): snapshot the accounts that changed since their last one."""
    from ledger.reporting import take_snapshots as run

    return run()


@shared_task(acks_late=True, ignore_result=True)
def run_export(export_id: int) -> None:
    """Enqueued on commit of POST /exports: build the CSV."""
    from ledger.reporting import build_export

    build_export(export_id=export_id)


@shared_task(ignore_result=True)
def requeue_exports() -> int:
    """Beat, every 5 minutes: re-enqueue pending exports and stale running ones (lost)."""
    from ledger.reporting import requeue_exports as run

    return run()


@shared_task(acks_late=True, ignore_result=True)
def purge_exports() -> int:
    """Beat, daily: delete export files older than EXPORT_RETENTION_DAYS."""
    from ledger.reporting import purge_exports as run

    return run()


@shared_task(acks_late=True, ignore_result=True)
def purge_idempotency_keys() -> int:
    """Beat, hourly: delete idempotency records past IDEMPOTENCY_TTL."""
    from ledger.idempotency import purge_expired_keys

    return purge_expired_keys()


@shared_task(acks_late=True, ignore_result=True)
def verify_ledger() -> int:
    """Beat, every 15 minutes: re-check the invariants; sets the gauges, keeps the result."""
    from ledger.reporting import record_verification

    return record_verification().violation_count


@shared_task(acks_late=True, ignore_result=True)
def expire_holds() -> int:
    """Beat, every minute: void two-phase holds past their expires_at."""
    from ledger.services import expire_holds as run

    return run()
