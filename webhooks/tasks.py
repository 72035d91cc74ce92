"""Celery entry points: load ids, call one service.

A delivery's hard time limit ends before its lease (services.lease_duration): no attempt is
still sending when requeue_deliveries may hand the delivery to another worker.
"""

from celery import shared_task
from django.conf import settings

# The HTTP timeouts bound one attempt; +1 s to finish up, +3 s and the process is killed.
_SEND_SECONDS = settings.WEBHOOK_TIMEOUT_CONNECT + settings.WEBHOOK_TIMEOUT_READ


@shared_task(
    acks_late=True,
    # Safe to run again (the lease and the status make a second run a no-op or a resend that
    # receivers dedupe by event id): a message whose process died is redelivered at once.
    reject_on_worker_lost=True,
    ignore_result=True,
    soft_time_limit=_SEND_SECONDS + 1,
    time_limit=_SEND_SECONDS + 3,
)
def deliver_webhook(delivery_id: int) -> None:
    from webhooks.services import attempt_delivery  # services import this module

    attempt_delivery(delivery_id=delivery_id)


@shared_task(ignore_result=True, soft_time_limit=60, time_limit=90)
def requeue_deliveries() -> int:
    from webhooks.services import requeue_deliveries as requeue

    return requeue()
