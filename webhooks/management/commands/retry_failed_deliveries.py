"""`retry_failed_deliveries`: queue failed webhook deliveries again, after a receiver's outage.

    manage.py retry_failed_deliveries [--endpoint we_…] [--since 24h|2026-12-01T00:00]
                                      [--event-type transaction.posted] [--limit N]
                                      [--dry-run] [--json]

Failed deliveries (every attempt used, `WEBHOOK_MAX_ATTEMPTS`) to active endpoints, oldest
first, go back to `pending` through `webhooks.services.retry_delivery`, the admin's "Retry"
action: attempts are kept, so each gets one more attempt, and the delivery task is enqueued as
each commits (a lost message is sent again by `requeue_deliveries`). `--dry-run` lists them
and changes nothing.
"""

import re
from datetime import datetime, timedelta

from django.core.management.base import CommandError
from django.utils import timezone

from ledgerflow.progress import ProgressCommand, iso_instant
from webhooks import selectors, services
from webhooks.models import EVENT_TYPES, WebhookEndpoint

SHOWN = 20  # deliveries listed by a dry run in text mode (--json lists all)
_AGO = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str) -> datetime:
    """`90m`, `24h`, `7d` ago, or an ISO 8601 date or date-time (UTC unless it says)."""
    if match := _AGO.fullmatch(text.strip()):
        return timezone.now() - timedelta(**{_UNITS[match[2]]: float(match[1])})
    try:
        return iso_instant(text, "--since")
    except CommandError:
        raise CommandError(f"--since: {text!r} is neither a duration (24h) nor ISO 8601.") from None


class Command(ProgressCommand):
    help = "Queue failed webhook deliveries again (filters: endpoint, since, event type)."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument("--endpoint", help="public id of one endpoint (we_…)")
        parser.add_argument("--since", help="failed since: 24h, 7d, or an ISO 8601 instant")
        parser.add_argument("--event-type", choices=EVENT_TYPES, help="one event type")
        parser.add_argument("--limit", type=int, help="at most this many, oldest first")
        parser.add_argument("--dry-run", action="store_true", help="list them, change nothing")

    def handle(self, *args, **options):
        endpoint = None
        if options["endpoint"]:
            endpoint = WebhookEndpoint.objects.filter(public_id=options["endpoint"]).first()
            if endpoint is None:
                raise CommandError(f"No webhook endpoint {options['endpoint']!r}.")
            if not endpoint.is_active:
                raise CommandError(f"{endpoint.public_id} is disabled: enable it first.")
        since = parse_since(options["since"]) if options["since"] else None
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1.")

        matched = selectors.failed_deliveries(
            endpoint=endpoint, since=since, event_type=options["event_type"]
        )
        if options["limit"]:
            matched = matched[: options["limit"]]
        rows = list(matched)
        filters = {
            "endpoint": endpoint.public_id if endpoint else None,
            "since": since.isoformat() if since else None,
            "event_type": options["event_type"],
            "limit": options["limit"],
        }
        if options["dry_run"]:
            self._dry_run(rows, filters)
            return

        with self.progress("retrying", unit="deliveries", total=len(rows)) as progress:
            outcome = services.retry_deliveries(
                actor=None, delivery_ids=[d.pk for d in rows], progress=progress.callback()
            )
        skipped = f" ({len(outcome.skipped)} no longer failed)" if outcome.skipped else ""
        self.result(
            {
                "dry_run": False,
                **filters,
                "matched": len(rows),
                "retried": outcome.retried,
                "skipped": outcome.skipped,
            },
            f"retry_failed_deliveries: {len(outcome.retried)} delivery(ies) queued again{skipped}",
        )

    def _dry_run(self, rows, filters) -> None:
        listed = [
            {
                "id": d.public_id,
                "endpoint": d.endpoint.public_id,
                "event_type": d.event.type,
                "attempts": d.attempts,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "failed_at": d.updated_at.isoformat(),
            }
            for d in rows
        ]
        lines = [f"retry_failed_deliveries: would queue {len(rows)} delivery(ies) again (dry run)"]
        lines += [
            f"  {d['id']}  {d['endpoint']}  {d['event_type']}  {d['attempts']} attempt(s)  "
            f"{d['last_status_code'] or d['last_error'][:60]}"
            for d in listed[:SHOWN]
        ]
        if len(listed) > SHOWN:
            lines.append(f"  … and {len(listed) - SHOWN} more (--json lists all)")
        self.result(
            {"dry_run": True, **filters, "matched": len(rows), "deliveries": listed},
            "\n".join(lines),
        )
