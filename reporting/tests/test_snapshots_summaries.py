"""Balance snapshots and period summaries (services, selectors and their endpoints)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.models import Account
from ledger.services import post_deposit, post_transfer, post_withdrawal
from reporting import selectors, services
from reporting.models import BalanceSnapshot

pytestmark = pytest.mark.django_db

T1 = datetime(2025, 1, 1, 12, tzinfo=UTC)
T2 = datetime(2025, 1, 1, 13, tzinfo=UTC)


def latest_snapshot(account: Account) -> BalanceSnapshot:
    return BalanceSnapshot.objects.filter(account=account).latest("taken_at")


# --- take_snapshots ------------------------------------------------------------------------


def test_first_snapshot_covers_every_account_with_its_balances(funded, customer, other_customer):
    a = funded(customer, "100.00")
    b = funded(other_customer, "40.00")
    empty = funded(customer, "0")

    written = services.take_snapshots(taken_at=T1)

    assert written == Account.objects.count()  # includes the USD world account
    for account in Account.objects.all():
        snap = latest_snapshot(account)
        assert (snap.balance, snap.pending_debits, snap.pending_credits, snap.version) == (
            account.balance,
            account.pending_debits,
            account.pending_credits,
            account.version,
        )
        assert snap.taken_at == T1
    assert latest_snapshot(a).balance == 10000
    assert latest_snapshot(b).balance == 4000
    assert (latest_snapshot(empty).balance, latest_snapshot(empty).version) == (0, 0)


def test_second_run_without_changes_writes_nothing(funded, customer):
    funded(customer, "100.00")
    services.take_snapshots(taken_at=T1)

    assert services.take_snapshots(taken_at=T2) == 0
    assert not BalanceSnapshot.objects.filter(taken_at=T2).exists()


def test_after_a_transfer_only_the_two_touched_accounts_get_new_rows(
    funded, customer, other_customer
):
    a = funded(customer, "100.00")
    b = funded(other_customer, "0")
    untouched = funded(other_customer, "5.00")
    services.take_snapshots(taken_at=T1)
    post_transfer(actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("12.5"))

    assert services.take_snapshots(taken_at=T2) == 2

    new = {s.account_id: s for s in BalanceSnapshot.objects.filter(taken_at=T2)}
    assert set(new) == {a.pk, b.pk}
    assert (new[a.pk].balance, new[a.pk].version) == (8750, 2)
    assert (new[b.pk].balance, new[b.pk].version) == (1250, 1)
    assert latest_snapshot(untouched).taken_at == T1


def test_a_hold_is_a_change_even_though_the_version_is_not(funded, customer, other_customer):
    a = funded(customer, "100.00")
    b = funded(other_customer, "0")
    services.take_snapshots(taken_at=T1)
    post_transfer(
        actor=customer,
        from_account_id=a.pk,
        to_account_id=b.pk,
        amount=Decimal("30"),
        pending=True,
    )

    assert services.take_snapshots(taken_at=T2) == 2

    held, incoming = latest_snapshot(a), latest_snapshot(b)
    assert (held.balance, held.pending_debits, held.version) == (10000, 3000, 1)
    assert (incoming.balance, incoming.pending_credits, incoming.version) == (0, 3000, 0)


def test_take_snapshots_is_one_statement(funded, customer, django_assert_max_num_queries):
    for _ in range(5):
        funded(customer, "1.00")
    with django_assert_max_num_queries(4) as queries:  # + savepoint, the runs' lock, release
        services.take_snapshots()
    assert [q["sql"].split()[0] for q in queries if "snapshot" in q["sql"]] == ["INSERT"]


# --- GET /accounts/{id}/snapshots ----------------------------------------------------------


def test_snapshot_list_is_newest_first_with_decimal_strings(funded, customer, customer_client):
    a = funded(customer, "100.00")
    services.take_snapshots(taken_at=T1)
    post_withdrawal(actor=customer, account_id=a.pk, amount=Decimal("0.05"))
    services.take_snapshots(taken_at=T2)

    response = customer_client.get(f"/api/v1/accounts/{a.public_id}/snapshots")

    assert response.status_code == 200
    assert response.json()["results"] == [
        {
            "account": a.public_id,
            "balance": "99.95",
            "pending_debits": "0.00",
            "pending_credits": "0.00",
            "taken_at": "2025-01-01T13:00:00Z",
        },
        {
            "account": a.public_id,
            "balance": "100.00",
            "pending_debits": "0.00",
            "pending_credits": "0.00",
            "taken_at": "2025-01-01T12:00:00Z",
        },
    ]


def test_snapshot_list_filters_by_time_and_pages_with_a_cursor(funded, customer, customer_client):
    a = funded(customer, "100.00")
    for hour in range(5):
        post_withdrawal(actor=customer, account_id=a.pk, amount=Decimal("1"))
        services.take_snapshots(taken_at=T1 + timedelta(hours=hour))
    url = f"/api/v1/accounts/{a.public_id}/snapshots"

    window = customer_client.get(url, {"from": "2025-01-01T13:00:00Z", "to": "2025-01-01T15:00Z"})
    assert [s["taken_at"] for s in window.json()["results"]] == [
        "2025-01-01T14:00:00Z",
        "2025-01-01T13:00:00Z",
    ]
    first = customer_client.get(url, {"page_size": 3}).json()
    second = customer_client.get(first["next"]).json()
    assert [s["balance"] for s in first["results"] + second["results"]] == [
        "95.00",
        "96.00",
        "97.00",
        "98.00",
        "99.00",
    ]


def test_snapshots_of_someone_elses_account_are_404(funded, other_customer, customer_client):
    theirs = funded(other_customer, "10.00")
    services.take_snapshots()

    response = customer_client.get(f"/api/v1/accounts/{theirs.public_id}/snapshots")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_snapshot_list_rejects_a_bad_time(funded, customer, customer_client):
    a = funded(customer, "1.00")
    response = customer_client.get(f"/api/v1/accounts/{a.public_id}/snapshots?from=yesterday")
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


# --- summary -------------------------------------------------------------------------------


@pytest.fixture
def history(funded, customer, other_customer, staff):
    """mine: +100 salary (deposit), -30 food, -12.50 food (transfers out), +20 refund (in),
    -10 cash (withdrawal). `after_salary` falls between the deposit and the rest."""
    mine = funded(customer, "0")
    theirs = funded(other_customer, "50.00")
    post_deposit(actor=staff, account_id=mine.pk, amount=Decimal("100"), category="salary")
    after_salary = timezone.now()
    for amount in ("30", "12.50"):
        post_transfer(
            actor=customer,
            from_account_id=mine.pk,
            to_account_id=theirs.pk,
            amount=Decimal(amount),
            category="food",
        )
    post_transfer(
        actor=other_customer,
        from_account_id=theirs.pk,
        to_account_id=mine.pk,
        amount=Decimal("20"),
        category="refund",
    )
    post_withdrawal(actor=customer, account_id=mine.pk, amount=Decimal("10"), category="cash")
    return mine, after_salary


def test_summary_totals_by_category_and_kind(history, customer_client):
    mine, _ = history

    response = customer_client.get(f"/api/v1/accounts/{mine.public_id}/summary")

    assert response.status_code == 200
    body = response.json()
    assert body["account"] == mine.public_id
    assert body["asset"] == "USD"
    assert body["from"] is None
    assert body["to"].endswith("Z")
    assert (body["total_in"], body["total_out"], body["net"]) == ("120.00", "52.50", "67.50")
    assert body["by_category"] == [
        {"category": "cash", "in": "0.00", "out": "10.00", "net": "-10.00"},
        {"category": "food", "in": "0.00", "out": "42.50", "net": "-42.50"},
        {"category": "refund", "in": "20.00", "out": "0.00", "net": "20.00"},
        {"category": "salary", "in": "100.00", "out": "0.00", "net": "100.00"},
    ]
    assert body["by_kind"] == [
        {"kind": "deposit", "in": "100.00", "out": "0.00", "net": "100.00"},
        {"kind": "transfer", "in": "20.00", "out": "42.50", "net": "-22.50"},
        {"kind": "withdrawal", "in": "0.00", "out": "10.00", "net": "-10.00"},
    ]


def test_summary_counts_only_the_period(history, customer_client):
    mine, after_salary = history
    since = after_salary.isoformat().replace("+00:00", "Z")

    body = customer_client.get(f"/api/v1/accounts/{mine.public_id}/summary", {"from": since}).json()

    assert (body["total_in"], body["total_out"], body["net"]) == ("20.00", "52.50", "-32.50")
    assert "salary" not in {row["category"] for row in body["by_category"]}
    empty = customer_client.get(
        f"/api/v1/accounts/{mine.public_id}/summary",
        {"from": "2000-01-01T00:00:00Z", "to": "2000-02-01T00:00:00Z"},
    ).json()
    assert (empty["total_in"], empty["by_category"], empty["by_kind"]) == ("0.00", [], [])


def test_summary_is_one_aggregate_query(history, django_assert_num_queries):
    mine, _ = history
    with django_assert_num_queries(1):
        summary = selectors.summary_of(mine, since=None, until=None)
    assert summary.total.net == 6750


def test_summary_rejects_an_empty_period(funded, customer, customer_client):
    a = funded(customer, "1.00")
    response = customer_client.get(
        f"/api/v1/accounts/{a.public_id}/summary",
        {"from": "2025-02-01T00:00:00Z", "to": "2025-01-01T00:00:00Z"},
    )
    assert response.status_code == 422
    assert response.json()["errors"] == {"from": ["Must be before `to`."]}


def test_summary_of_someone_elses_account_is_404(funded, other_customer, customer_client):
    theirs = funded(other_customer, "10.00")
    response = customer_client.get(f"/api/v1/accounts/{theirs.public_id}/summary")
    assert response.status_code == 404


# --- read replica routing ------------------------------------------------------------------


def test_without_a_replica_every_reporting_read_uses_default(
    funded, customer, settings, monkeypatch
):
    from ledgerflow.routers import read_replica

    a = funded(customer, "1.00")
    monkeypatch.delitem(settings.DATABASES, "replica", raising=False)  # CI configures one
    assert read_replica() == "default"
    assert selectors.snapshots_of(a).db == "default"
    selectors.summary_of(a, since=None, until=None)  # runs on default: no other alias exists


def test_lagging_reads_go_to_the_replica_when_there_is_one(funded, customer, monkeypatch):
    a = funded(customer, "1.00")
    monkeypatch.setattr(selectors, "read_replica", lambda: "replica")
    assert selectors.snapshots_of(a).db == "replica"
