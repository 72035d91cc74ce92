"""Asynchronous CSV exports: request, build (Celery task run eagerly), download, purge."""

import csv
import io
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from ledger.models import Entry
from ledger.services import post_deposit, post_journal, post_transfer
from ledgerflow.money import to_major
from reporting import csv_export, services
from reporting.models import Export
from webhooks.models import Event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("file_storage")]


@pytest.fixture
def export_now(customer_client, django_capture_on_commit_callbacks, eager):
    """POST /exports and run the on-commit task; returns the final GET /exports/{id} body."""

    def run(body: dict, client=customer_client) -> dict:
        with django_capture_on_commit_callbacks(execute=True):
            created = client.post("/api/v1/exports", body, format="json")
        assert created.status_code == 202, created.json()
        detail = client.get(f"/api/v1/exports/{created.json()['id']}")
        assert detail.status_code == 200
        return detail.json()

    return run


def download_rows(client, export: dict) -> list[list[str]]:
    response = client.get(export["download_url"])
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(text, newline="")))


# --- request and status --------------------------------------------------------------------


def test_post_answers_202_pending_and_enqueues_after_commit(
    funded, customer, customer_client, django_capture_on_commit_callbacks, monkeypatch
):
    account = funded(customer, "10.00")
    queued = []
    monkeypatch.setattr("reporting.tasks.run_export.delay", queued.append)

    with django_capture_on_commit_callbacks() as callbacks:
        response = customer_client.post(
            "/api/v1/exports", {"kind": "entries", "account": account.public_id}, format="json"
        )
        assert queued == []  # nothing is sent before the commit

    assert response.status_code == 202
    body = response.json()
    assert body["id"].startswith("exp_")
    assert (body["status"], body["kind"], body["row_count"], body["download_url"]) == (
        "pending",
        "entries",
        None,
        None,
    )
    assert body["account"] == account.public_id
    assert body["completed_at"] is None
    assert len(callbacks) == 1
    callbacks[0]()
    assert queued == [Export.objects.get(public_id=body["id"]).pk]


def test_completed_export_has_rows_an_event_and_an_absolute_download_url(
    funded, customer, export_now
):
    account = funded(customer, "25.00")

    export = export_now({"kind": "entries", "account": account.public_id})

    assert export["status"] == "completed"
    assert export["row_count"] == 1
    assert export["download_url"] == (f"http://testserver/api/v1/exports/{export['id']}/download")
    assert export["completed_at"] is not None
    event = Event.objects.get(type="export.completed")
    assert event.owner_id == customer.pk
    assert event.payload["id"] == export["id"]
    assert event.payload["row_count"] == 1


def test_download_of_entries_matches_the_ledger(funded, customer, customer_client, export_now):
    account = funded(customer, "100.00")
    other = funded(customer, "0")
    post_transfer(
        actor=customer, from_account_id=account.pk, to_account_id=other.pk, amount=Decimal("12.5")
    )

    rows = download_rows(customer_client, export_now({"kind": "entries"}))

    assert rows[0] == csv_export.ENTRY_COLUMNS
    entries = Entry.objects.filter(account__owner=customer).order_by("created_at", "pk")
    assert [(r[3], r[8], r[9], r[10]) for r in rows[1:]] == [
        (
            e.account.public_id,
            to_major(e.amount, 2),
            to_major(e.balance_after, 2),
            str(e.account_version),
        )
        for e in entries
    ]
    assert [r[8] for r in rows[1:]] == ["100.00", "-12.50", "12.50"]
    assert rows[1][0].endswith("Z")  # ISO 8601 UTC


def test_export_of_10000_entries_parses_back_to_exactly_the_ledger(
    funded, customer, staff, customer_client, export_now
):
    source = funded(customer, "1000.00")  # 1 entry
    target = funded(customer, "0")
    # 101 journals of 1 debit + 98 one-cent credits: 9,999 entries. Many modest journals rather
    # than one huge one: PostgreSQL's per-row balance trigger makes commit O(legs²).
    for _ in range(101):
        post_journal(
            actor=staff,
            entries=[(source.pk, Decimal("-0.98"))] + [(target.pk, Decimal("0.01"))] * 98,
            reference="fan-out",
        )
    if connection.vendor == "postgresql":
        # A fresh test table has no statistics, so the deferred balance trigger (run for each
        # of these entries by the teardown's constraint check) would seq-scan 10,000 times.
        # Autovacuum does this in production.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE ledger_entry")
    started = time.monotonic()

    export = export_now({"kind": "entries"})
    rows = download_rows(customer_client, export)

    assert time.monotonic() - started < 20
    assert export["row_count"] == 10_000
    expected = [
        [
            e.created_at.isoformat().replace("+00:00", "Z"),
            str(e.pk),
            e.transaction.public_id,
            e.account.public_id,
            "USD",
            e.transaction.kind,
            e.transaction.category,
            e.transaction.reference,
            to_major(e.amount, 2),
            to_major(e.balance_after, 2),
            str(e.account_version),
        ]
        for e in Entry.objects.filter(account__owner=customer)
        .select_related("transaction", "account")
        .order_by("created_at", "pk")
    ]
    assert rows[1:] == expected
    assert rows[-1][9] == "98.98"


def test_transactions_export_lists_each_transaction_once(
    funded, customer, other_customer, customer_client, export_now
):
    mine = funded(customer, "50.00")
    theirs = funded(other_customer, "0")
    txn = post_transfer(
        actor=customer, from_account_id=mine.pk, to_account_id=theirs.pk, amount=Decimal("5")
    )

    rows = download_rows(customer_client, export_now({"kind": "transactions"}))

    assert rows[0] == csv_export.TRANSACTION_COLUMNS
    assert [(r[1], r[2], r[5]) for r in rows[1:]] == [
        (rows[1][1], "deposit", "50.00"),
        (txn.public_id, "transfer", "5.00"),
    ]


def test_period_limits_the_rows(funded, customer, customer_client, staff, export_now):
    account = funded(customer, "1.00")
    cut = timezone.now()
    post_deposit(actor=staff, account_id=account.pk, amount=Decimal("2"))

    export = export_now(
        {"kind": "entries", "from": cut.isoformat().replace("+00:00", "Z")},
    )

    assert export["row_count"] == 1
    assert [r[8] for r in download_rows(customer_client, export)[1:]] == ["2.00"]


# --- CSV safety ----------------------------------------------------------------------------

FORMULAS = ['=HYPERLINK("http://evil","x")', "+1+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"]
AWKWARD = 'a,b "quoted"\nsecond line'


def test_formulas_are_neutralised_and_awkward_text_survives(
    funded, customer, other_customer, customer_client, export_now
):
    mine = funded(customer, "100.00")
    theirs = funded(other_customer, "0")
    for reference in [*FORMULAS, AWKWARD]:
        post_transfer(
            actor=customer,
            from_account_id=mine.pk,
            to_account_id=theirs.pk,
            amount=Decimal("1"),
            reference=reference,
            category="=cmd|' /C calc'!A0",
        )

    rows = download_rows(customer_client, export_now({"kind": "entries"}))[2:]  # after deposit

    assert [r[7] for r in rows] == [*(f"'{f}" for f in FORMULAS), AWKWARD]
    assert {r[6] for r in rows} == {"'=cmd|' /C calc'!A0"}
    assert {r[8] for r in rows} == {"-1.00"}  # numbers stay numbers, never prefixed


def test_neutralise_leaves_plain_text_alone():
    assert csv_export.neutralise("order 42") == "order 42"
    assert csv_export.neutralise("") == ""
    assert csv_export.neutralise("-5") == "'-5"


# --- ownership -----------------------------------------------------------------------------


def test_exports_of_other_users_are_404(funded, customer, other_client, export_now):
    funded(customer, "1.00")
    export = export_now({"kind": "entries"})

    detail = other_client.get(f"/api/v1/exports/{export['id']}")
    download = other_client.get(f"/api/v1/exports/{export['id']}/download")

    assert (detail.status_code, detail.json()["code"]) == (404, "not_found")
    assert (download.status_code, download.json()["code"]) == (404, "not_found")


def test_staff_cannot_read_a_customers_export(funded, customer, staff_client, export_now):
    funded(customer, "1.00")
    export = export_now({"kind": "entries"})
    assert staff_client.get(f"/api/v1/exports/{export['id']}").status_code == 404


def test_exporting_someone_elses_account_is_404_and_creates_nothing(
    funded, other_customer, customer_client
):
    theirs = funded(other_customer, "1.00")

    response = customer_client.post(
        "/api/v1/exports", {"kind": "entries", "account": theirs.public_id}, format="json"
    )

    assert (response.status_code, response.json()["code"]) == (404, "not_found")
    assert not Export.objects.exists()


def test_invalid_request_is_400_and_creates_nothing(customer_client):
    response = customer_client.post("/api/v1/exports", {"kind": "everything"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()["errors"]
    assert not Export.objects.exists()


def test_download_before_completion_is_409(funded, customer, customer_client):
    funded(customer, "1.00")
    created = customer_client.post("/api/v1/exports", {"kind": "entries"}, format="json").json()

    response = customer_client.get(f"/api/v1/exports/{created['id']}/download")

    assert (response.status_code, response.json()["code"]) == (409, "invalid_state")


def test_same_idempotency_key_creates_one_export(funded, customer, customer_client):
    funded(customer, "1.00")
    headers = {"HTTP_IDEMPOTENCY_KEY": "export-1"}
    first = customer_client.post("/api/v1/exports", {"kind": "entries"}, format="json", **headers)
    again = customer_client.post("/api/v1/exports", {"kind": "entries"}, format="json", **headers)

    assert (first.status_code, again.status_code) == (202, 202)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert Export.objects.count() == 1


# --- build: failure and re-runs ------------------------------------------------------------


def test_a_failing_build_marks_the_export_failed_and_leaves_no_file(
    funded, customer, export_now, file_storage, monkeypatch
):
    funded(customer, "1.00")

    def explode(out, export):
        out.write("half a row")
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(services, "write_csv", explode)

    export = export_now({"kind": "entries"})

    assert export["status"] == "failed"
    assert export["error"] == "Export failed (RuntimeError); request again."
    assert (export["download_url"], export["row_count"]) == (None, None)
    assert list(file_storage.iterdir()) == []
    assert not Event.objects.filter(type="export.completed").exists()


def test_running_the_build_twice_changes_nothing(funded, customer, export_now, file_storage):
    funded(customer, "1.00")
    export = export_now({"kind": "entries"})
    row = Export.objects.get(public_id=export["id"])

    services.build_export(export_id=row.pk)

    assert Export.objects.get(pk=row.pk).completed_at == row.completed_at
    assert len(list(file_storage.iterdir())) == 1
    assert Event.objects.filter(type="export.completed").count() == 1


def test_a_run_whose_lease_expired_is_taken_over(funded, customer, file_storage):
    funded(customer, "1.00")
    export = Export.objects.create(
        owner=customer,
        kind=Export.Kind.ENTRIES,
        status=Export.Status.RUNNING,
        started_at=timezone.now() - services.EXPORT_LEASE - timedelta(seconds=1),
    )

    services.build_export(export_id=export.pk)

    export.refresh_from_db()
    assert (export.status, export.row_count) == (Export.Status.COMPLETED, 1)


def test_a_fresh_running_export_is_left_to_its_worker(customer):
    export = Export.objects.create(
        owner=customer,
        kind=Export.Kind.ENTRIES,
        status=Export.Status.RUNNING,
        started_at=timezone.now(),
    )
    services.build_export(export_id=export.pk)
    export.refresh_from_db()
    assert export.status == Export.Status.RUNNING


# --- purge ---------------------------------------------------------------------------------


def test_purge_deletes_old_files_and_marks_them_expired(
    funded, customer, customer_client, export_now, file_storage, settings
):
    funded(customer, "1.00")
    old = export_now({"kind": "entries"})
    fresh = export_now({"kind": "entries"})
    Export.objects.filter(public_id=old["id"]).update(
        completed_at=timezone.now() - timedelta(days=settings.EXPORT_RETENTION_DAYS, seconds=1)
    )

    assert services.purge_exports() == 1
    assert services.purge_exports() == 0  # twice is harmless

    expired = Export.objects.get(public_id=old["id"])
    assert (expired.status, expired.file.name) == (Export.Status.EXPIRED, "")
    assert [p.name for p in file_storage.iterdir()] == [f"{fresh['id']}.csv"]
    gone = customer_client.get(f"/api/v1/exports/{old['id']}")
    assert (gone.json()["status"], gone.json()["download_url"]) == ("expired", None)
    assert customer_client.get(f"/api/v1/exports/{old['id']}/download").status_code == 409
