from celery import shared_task


# Safe to run twice: redelivered if its process dies mid-run.
@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=120,
    time_limit=150,
)
def expire_orders() -> int:
    """Beat, every minute: expire pending orders past `expires_at` (safe to run twice)."""
    from orders.services import expire_orders as run  # services may import tasks: avoid a cycle

    return run()
