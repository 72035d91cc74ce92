"""Celery tasks of the ledger: thin wrappers over services, each safe to run twice.

Services import this module (to enqueue), so each task imports its service when it runs.
Every task has a soft and a hard time limit (seconds). Those that are safe to run again are
redelivered when their pool process dies mid-run (reject_on_worker_lost with acks_late); the
periodic sweeps need not be: the next tick runs them anyway. The reports' tasks (exports,
snapshots, verify_ledger, purge_exports) are reporting's (reporting/tasks.py), still named
`ledger.tasks.*`.
"""

from celery import shared_task

# Safe to run twice, redelivered if the process running it is killed.
REDELIVERED = {"acks_late": True, "reject_on_worker_lost": True, "ignore_result": True}


@shared_task(**REDELIVERED, soft_time_limit=600, time_limit=660)
def purge_idempotency_keys() -> int:
    """Beat, hourly: delete idempotency records past IDEMPOTENCY_TTL."""
    from ledger.idempotency import purge_expired_keys

    return purge_expired_keys()


@shared_task(**REDELIVERED, soft_time_limit=120, time_limit=150)
def expire_holds() -> int:
    """Beat, every minute: void two-phase holds past their expires_at."""
    from ledger.services import expire_holds as run

    return run()
