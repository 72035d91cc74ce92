from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def expire_orders() -> int:
    """Beat, every minute: expire pending orders past `expires_at` (safe to run twice)."""
    from orders.services import expire_orders as run  # services may import tasks: avoid a cycle

    return run()
