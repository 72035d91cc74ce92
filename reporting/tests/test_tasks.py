"""Reporting's beat tasks (still named `ledger.tasks.*`): harmless twice in a row."""

from decimal import Decimal

import pytest

from ledger.services import post_transfer
from ledgerflow import metrics
from reporting import tasks
from reporting.models import BalanceSnapshot, VerificationRun

pytestmark = pytest.mark.django_db


def test_take_snapshots_twice(funded, customer, other_customer):
    a = funded(customer, "10.00")
    b = funded(other_customer, "0")
    first = tasks.take_snapshots()
    assert first == BalanceSnapshot.objects.count() > 0
    assert tasks.take_snapshots() == 0
    post_transfer(actor=customer, from_account_id=a.pk, to_account_id=b.pk, amount=Decimal("1"))
    assert tasks.take_snapshots() == 2
    assert tasks.take_snapshots() == 0


def test_purge_exports_twice_with_nothing_to_do():
    assert tasks.purge_exports() == 0
    assert tasks.purge_exports() == 0


def test_verify_ledger_twice_records_runs_and_sets_the_gauges(funded, customer):
    funded(customer, "10.00")

    assert tasks.verify_ledger() == 0
    assert tasks.verify_ledger() == 0

    runs = list(VerificationRun.objects.order_by("checked_at"))
    assert [run.violation_count for run in runs] == [0, 0]
    assert runs[-1].details["counts"]["unbalanced_transactions"] == 0
    assert metrics.VERIFY_VIOLATIONS._value.get() == 0
    assert metrics.VERIFY_LAST_RUN._value.get() == pytest.approx(runs[-1].checked_at.timestamp())


def test_verify_ledger_reports_a_violation(funded, customer):
    account = funded(customer, "10.00")
    type(account).objects.filter(pk=account.pk).update(balance=999)  # corrupt on purpose

    assert tasks.verify_ledger() == 2  # differs from its entries and from its last balance_after

    latest = VerificationRun.objects.latest("checked_at")
    assert latest.violation_count == 2
    assert latest.details["counts"]["balance_differs_from_entries"] == 1
    assert metrics.VERIFY_VIOLATIONS._value.get() == 2
