"""Reporting writes: balance snapshots, the export lifecycle, upkeep and verification runs.

Every service here is safe to run twice; reads that may lag (export rows) go to
`read_replica()` through reporting.csv_export, everything that writes uses the primary.
"""

import logging
import tempfile
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import Account, User
from accounts.selectors import accounts_of
from ledger.verification import VerificationResult, verify_ledger
from ledgerflow import metrics
from ledgerflow.errors import InvalidState, ValidationFailed
from ledgerflow.progress import ProgressCallback
from reporting.csv_export import iso, write_csv
from reporting.models import Export, VerificationRun
from reporting.tasks import EXPORT_TIME_LIMIT
from webhooks.services import record_event

# The name it had in the ledger app: log queries and alerts on it keep matching.
logger = logging.getLogger("ledger.reporting")

# --- snapshots -----------------------------------------------------------------------------

# One statement: every account whose balances or version differ from its latest snapshot (or
# that has none) gets a row. "Latest" is found through the unique (account_id, taken_at) index.
TAKE_SNAPSHOTS_SQL = """
    INSERT INTO ledger_balancesnapshot
           (account_id, balance, pending_debits, pending_credits, version, taken_at)
    SELECT a.id, a.balance, a.pending_debits, a.pending_credits, a.version, %s
      FROM accounts_account a
      LEFT JOIN ledger_balancesnapshot s
        ON s.account_id = a.id
       AND s.taken_at = (SELECT MAX(latest.taken_at) FROM ledger_balancesnapshot latest
                          WHERE latest.account_id = a.id)
     WHERE a.id > %s AND a.id <= %s
       AND (s.id IS NULL
            OR s.balance <> a.balance
            OR s.pending_debits <> a.pending_debits
            OR s.pending_credits <> a.pending_credits
            OR s.version <> a.version)
"""
INT64_MAX = 2**63 - 1
SNAPSHOT_LOCK = 0x4C46_534E_4150  # pg_advisory_xact_lock key of take_snapshots ("LFSNAP")


def take_snapshots(
    *,
    taken_at: datetime | None = None,
    batch_size: int | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Snapshot every account that changed since its last snapshot; returns rows written.

    Set-based: one INSERT ... SELECT, whatever the number of accounts. Running it again with
    nothing changed writes nothing. With `batch_size` (the command, to show progress), one
    such statement per range of that many account ids, reporting `progress(accounts done,
    accounts in all)` after each; every row of one run carries the same `taken_at`.
    """
    taken_at = taken_at or timezone.now()
    stamp = connection.ops.adapt_datetimefield_value(taken_at)
    with connection.cursor() as cursor:
        if batch_size is None:
            return _snapshot_range(cursor, stamp, 0, INT64_MAX)
        total = Account.objects.count()
        written = done = last = 0
        if progress:
            progress(0, total)
        while ids := list(
            Account.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:batch_size]
        ):
            written += _snapshot_range(cursor, stamp, last, ids[-1])
            done, last = done + len(ids), ids[-1]
            if progress:
                progress(done, max(total, done))  # accounts opened meanwhile count too
        return written


def _snapshot_range(cursor, stamp: object, low: int, high: int) -> int:
    """Snapshot the changed accounts with ids in (low, high]; returns rows written.

    Runs take turns: two at once (a late beat tick beside the next one, the command beside
    beat) would each see no snapshot of the other's and write the same one twice. Under the
    lock the statement starts after the other run committed, so it sees that run's rows. On
    SQLite the atomic block's BEGIN IMMEDIATE serialises them the same way.
    """
    with transaction.atomic():
        if connection.vendor == "postgresql":
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SNAPSHOT_LOCK])
        cursor.execute(TAKE_SNAPSHOTS_SQL, [stamp, low, high])
        return cursor.rowcount


# --- exports -------------------------------------------------------------------------------

# A worker that died mid-export leaves it `running`; once no live run can still hold it (the
# task's hard time limit, and a minute for the kill), another run may take over.
EXPORT_LEASE = EXPORT_TIME_LIMIT + timedelta(minutes=1)
# A pending export older than this has lost its message (requeue_exports, every 30 s, sends it
# again; a duplicate message is a no-op once one run has claimed the export).
EXPORT_REQUEUE_GRACE = timedelta(seconds=30)
EXPORT_REQUEUE_BATCH = 1000


def request_export(
    *,
    actor: User,
    kind: str,
    account: Account | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Export:
    """Record a pending export and enqueue its build after commit.

    `account` has been resolved for the caller (someone else's is NotFound before this).
    """
    if since is not None and until is not None and since >= until:
        raise ValidationFailed("`from` must be before `to`.", {"from": ["Must be before `to`."]})
    from reporting.tasks import run_export  # tasks import this module

    with transaction.atomic():
        export = Export.objects.create(
            owner=actor, kind=kind, account=account, period_from=since, period_to=until
        )
        # robust: a broker outage must not turn a committed request into a 500; the export
        # stays pending and requeue_exports sends it later.
        transaction.on_commit(lambda: run_export.delay(export.pk), robust=True)
    return export


def requeue_exports(*, grace: timedelta = EXPORT_REQUEUE_GRACE) -> int:
    """Re-enqueue exports whose message was lost (beat task `requeue_exports`).

    Lost: pending for longer than `grace` (the broker dropped or never took the message), or
    running past EXPORT_LEASE (the worker died). Safe to run twice and beside live workers:
    build_export claims an export atomically, so a message for one already claimed or
    finished is a no-op. Returns how many were re-enqueued (at most EXPORT_REQUEUE_BATCH).
    """
    from reporting.tasks import run_export  # tasks import this module

    now = timezone.now()
    lost = Q(status=Export.Status.PENDING, created_at__lt=now - grace) | Q(
        status=Export.Status.RUNNING, started_at__lt=now - EXPORT_LEASE
    )
    ids = list(
        Export.objects.filter(lost)
        .order_by("created_at", "pk")
        .values_list("pk", flat=True)[:EXPORT_REQUEUE_BATCH]
    )
    if ids:
        logger.warning("re-enqueuing %d lost export(s)", len(ids))

        def enqueue() -> None:
            for export_id in ids:
                run_export.delay(export_id)

        transaction.on_commit(enqueue, robust=True)  # broker still down: the next sweep retries
    return len(ids)


def open_export_file(export: Export):
    """The finished CSV as a binary file object. Raises InvalidState until it is completed."""
    if export.status != Export.Status.COMPLETED:
        raise InvalidState(f"Export {export.public_id} is {export.status}; nothing to download.")
    return default_storage.open(export.file.name, "rb")


def build_export(*, export_id: int) -> None:
    """Build the export's CSV: claim it, stream rows to storage, then complete or fail it.

    At-least-once safe: a completed, failed or freshly claimed export is left alone, and a
    run whose claim was taken over (lease expired) discards its file instead of completing.
    """
    claimed_at = _claim_export(export_id)
    if claimed_at is None:
        return
    export = Export.objects.select_related("owner", "account").get(pk=export_id)
    name = ""
    try:
        with tempfile.TemporaryFile("w+", encoding="utf-8", newline="") as tmp:
            row_count = write_csv(tmp, export)
            tmp.seek(0)
            name = default_storage.save(f"{export.public_id}.csv", File(tmp))
        completed = _complete_export(export, claimed_at, name=name, row_count=row_count)
    except Exception as exc:
        logger.exception("export %s failed", export.public_id)
        completed = False
        _fail_export(export, claimed_at, f"Export failed ({type(exc).__name__}); request again.")
    if not completed and name:
        default_storage.delete(name)


def _claim_export(export_id: int) -> datetime | None:
    now = timezone.now()
    claimable = Q(status=Export.Status.PENDING) | Q(
        status=Export.Status.RUNNING, started_at__lt=now - EXPORT_LEASE
    )
    claimed = (
        Export.objects.filter(claimable, pk=export_id).update(
            status=Export.Status.RUNNING, started_at=now
        )
        == 1
    )
    return now if claimed else None


def _still_ours(export: Export, claimed_at: datetime) -> QuerySet[Export]:
    return Export.objects.filter(pk=export.pk, status=Export.Status.RUNNING, started_at=claimed_at)


def _complete_export(export: Export, claimed_at: datetime, *, name: str, row_count: int) -> bool:
    with transaction.atomic():
        now = timezone.now()
        if not _still_ours(export, claimed_at).update(
            status=Export.Status.COMPLETED, file=name, row_count=row_count, completed_at=now
        ):
            return False
        export.refresh_from_db()
        record_event("export.completed", export_data(export), accounts=_event_accounts(export))
    return True


def _fail_export(export: Export, claimed_at: datetime, error: str) -> None:
    _still_ours(export, claimed_at).update(
        status=Export.Status.FAILED, error=error, completed_at=timezone.now()
    )


def _event_accounts(export: Export) -> list[Account]:
    # The event is the owner's: one of their accounts is enough to route it to them.
    if export.account is not None:
        return [export.account]
    return list(accounts_of(export.owner).order_by("pk")[:1])


def export_data(export: Export, download_url: str | None = None) -> dict:
    """The export resource; `download_url` is absolute and set by the API once completed."""
    return {
        "id": export.public_id,
        "status": export.status,
        "kind": export.kind,
        "account": export.account.public_id if export.account is not None else None,
        "from": iso(export.period_from),
        "to": iso(export.period_to),
        "row_count": export.row_count,
        "error": export.error or None,
        "download_url": download_url if export.status == Export.Status.COMPLETED else None,
        "created_at": iso(export.created_at),
        "completed_at": iso(export.completed_at),
    }


def purge_exports(*, now: datetime | None = None) -> int:
    """Delete the files of exports completed more than EXPORT_RETENTION_DAYS ago and mark
    them `expired`. Returns how many expired. A crash between the two steps is repaired by
    the next run (deleting a missing file is a no-op)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.EXPORT_RETENTION_DAYS)
    stale = Export.objects.filter(status=Export.Status.COMPLETED, completed_at__lt=cutoff)
    expired = 0
    for export in stale.only("pk", "file").iterator():
        if export.file.name:
            default_storage.delete(export.file.name)
        expired += Export.objects.filter(pk=export.pk, status=Export.Status.COMPLETED).update(
            status=Export.Status.EXPIRED, file=""
        )
    return expired


# --- verification --------------------------------------------------------------------------


def record_verification(*, progress: ProgressCallback | None = None) -> VerificationResult:
    """Run verify_ledger, keep the outcome for the admin dashboard and set the gauges."""
    result = verify_ledger(progress=progress)
    VerificationRun.objects.create(
        checked_at=result.checked_at,
        violation_count=result.violation_count,
        details={
            "counts": result.counts,
            "samples": {name: [list(row) for row in rows] for name, rows in result.samples.items()},
        },
    )
    metrics.VERIFY_VIOLATIONS.set(result.violation_count)
    metrics.VERIFY_LAST_RUN.set(result.checked_at.timestamp())
    return result
