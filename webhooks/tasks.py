"""Celery entry points: load ids, call one service."""

from celery import shared_task


@shared_task(acks_late=True, ignore_result=True)
def deliver_webhook(delivery_id: int) -> None:
    from webhooks.services import attempt_delivery  # services import this module

    attempt_delivery(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def requeue_deliveries() -> int:
    from webhooks.services import requeue_deliveries as requeue

    return requeue()
