"""The long ledger commands report progress (log lines, a bar, JSON lines) and answer in JSON."""

import csv
import io
import json
import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account
from ledger.models import Entry
from ledger.verification import CHECKS
from reporting.models import BalanceSnapshot, VerificationRun

pytestmark = pytest.mark.django_db


class Terminal(StringIO):
    """What a person's stderr looks like to the command."""

    def isatty(self) -> bool:
        return True


def run(name: str, *args, stderr=None, **options) -> tuple[str, str]:
    out, err = StringIO(), stderr if stderr is not None else StringIO()
    call_command(name, *args, stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


@pytest.fixture
def five_changed_accounts(customer, funded):
    for amount in ("1.00", "2.00", "3.00", "4.00", "5.00"):
        funded(customer, amount)
    return Account.objects.count()


# --- take_snapshots ------------------------------------------------------------------------


def test_take_snapshots_logs_a_line_per_batch_when_stderr_is_not_a_terminal(
    five_changed_accounts,
):
    total = five_changed_accounts
    out, err = run("take_snapshots", batch_size=2, progress_interval=0)

    assert out == f"take_snapshots: {total} snapshot(s) written\n"
    assert BalanceSnapshot.objects.count() == total
    lines = err.splitlines()
    assert "take_snapshots: scanning 0 accounts" in lines[0]  # before the total is known
    positions = [re.search(r"scanning (\S+) accounts", line)[1] for line in lines[1:]]
    expected = [f"{done}/{total}" for done in range(0, total, 2)] + [f"{total}/{total}"]
    assert positions[: len(expected)] == expected
    assert lines[-1].endswith("done")
    assert f"{total}/{total} accounts (100%)" in lines[-1]
    assert all(line[:4].isdigit() and line[19] == "Z" for line in lines)  # timestamped


def test_take_snapshots_logs_only_first_and_last_lines_within_the_interval(
    five_changed_accounts,
):
    _, err = run("take_snapshots", batch_size=1, progress_interval=3600)
    assert len(err.splitlines()) == 2  # the start and the end, nothing between


def test_take_snapshots_draws_a_bar_on_a_terminal(five_changed_accounts):
    total = five_changed_accounts
    _, err = run("take_snapshots", batch_size=2, stderr=Terminal())

    assert "\r" in err  # redrawn in place, not line by line
    assert "take_snapshots: scanning" in err
    assert f"[{'#' * 30}]" in err
    assert f"{total}/{total}" in err
    assert " 0/" in err or "0/0" in err  # and empty at the start
    assert "Z take_snapshots" not in err  # no log lines


def test_progress_bar_option_draws_the_bar_on_a_pipe_too(five_changed_accounts):
    _, err = run("take_snapshots", progress="bar")
    assert "\r" in err
    assert "#" in err


def test_take_snapshots_json_is_one_document_and_progress_json_lines(five_changed_accounts):
    total = five_changed_accounts
    out, err = run("take_snapshots", batch_size=2, json=True, progress_interval=0)

    result = json.loads(out)
    assert result["snapshots"] == result["accounts"] == total
    progress = json_lines(err)
    assert progress[-1]["event"] == "done"
    assert progress[-1]["done"] == progress[-1]["total"] == total
    assert {line["command"] for line in progress} == {"take_snapshots"}
    assert [p["done"] for p in progress if p["event"] == "progress"][-1] == total

    # Nothing changed: a second run writes none, and says so.
    assert json.loads(run("take_snapshots", json=True)[0])["snapshots"] == 0


def test_progress_none_and_verbosity_zero_are_silent(five_changed_accounts):
    assert run("take_snapshots", progress="none")[1] == ""
    assert run("take_snapshots", verbosity=0)[1] == ""


# --- verify_ledger --------------------------------------------------------------------------


def test_verify_ledger_reports_each_check_and_answers_in_json(customer, funded):
    funded(customer, "10.00")
    out, err = run("verify_ledger", progress_interval=0)
    assert "verify_ledger: all invariants hold" in out
    positions = [f"{n}/{len(CHECKS)} checks" for n in range(1, len(CHECKS) + 1)]
    for position in positions:
        assert position in err

    out, err = run("verify_ledger", json=True, progress_interval=0)
    result = json.loads(out)
    assert result["ok"] is True
    assert result["violation_count"] == 0
    assert set(result["counts"]) == set(CHECKS)
    assert [line["done"] for line in json_lines(err)][-1] == len(CHECKS)
    assert VerificationRun.objects.count() == 2


def test_verify_ledger_json_reports_a_violation_and_exits_non_zero(customer, funded):
    account = funded(customer, "10.00")
    Account.objects.filter(pk=account.pk).update(balance=account.balance + 1)  # a broken book
    out = StringIO()
    with pytest.raises(CommandError, match="violation"):
        call_command("verify_ledger", json=True, stdout=out, stderr=StringIO())
    result = json.loads(out.getvalue())
    assert result["ok"] is False
    assert result["counts"]["balance_differs_from_entries"] == 1
    assert result["samples"]["balance_differs_from_entries"][0][0] == account.pk


# --- export_ledger --------------------------------------------------------------------------


@pytest.fixture
def history(customer, other_customer, funded):
    from decimal import Decimal

    from ledger.services import post_transfer

    source, target = funded(customer, "100.00"), funded(other_customer, "0")
    for _ in range(3):
        post_transfer(
            actor=customer,
            from_account_id=source.pk,
            to_account_id=target.pk,
            amount=Decimal("12.50"),
            reference="=HYPERLINK()",
        )
    return source


def test_export_writes_the_csv_of_the_api_with_progress(history, customer, tmp_path):
    path = tmp_path / "entries.csv"
    out, err = run("export_ledger", owner=customer.email, output=str(path), progress_interval=0)

    rows = list(csv.reader(io.StringIO(path.read_text())))
    assert rows[0][:3] == ["created_at", "entry", "transaction"]
    assert len(rows) - 1 == Entry.objects.filter(account__owner=customer).count() == 4
    amounts = [row[rows[0].index("amount")] for row in rows[1:]]
    assert amounts == ["100.00", "-12.50", "-12.50", "-12.50"]
    assert {row[rows[0].index("reference")] for row in rows[2:]} == {"'=HYPERLINK()"}
    assert out == f"export_ledger: 4 entries row(s) written to {path}\n"
    assert "4/4 rows (100%)" in err.splitlines()[-1]
    assert not [p for p in tmp_path.iterdir() if p.name != "entries.csv"]  # no part file left


def test_export_to_stdout_and_json_summary(history, tmp_path):
    out, err = run("export_ledger", account=history.public_id, kind="transactions", output="-")
    rows = list(csv.reader(io.StringIO(out)))  # only the CSV: the summary went to stderr
    assert err.endswith("export_ledger: 4 transactions row(s) written to stdout\n")
    assert len(rows) == 1 + 4  # the deposit and the three transfers
    assert all(row[5] in ("100.00", "12.50") for row in rows[1:])

    path = tmp_path / "t.csv"
    out, err = run(
        "export_ledger",
        account=history.public_id,
        kind="transactions",
        output=str(path),
        json=True,
        **{"from": "2000-01-01"},
    )
    result = json.loads(out)
    assert result["rows"] == 4
    assert result["output"] == str(path)
    assert result["account"] == history.public_id
    assert result["from"].startswith("2000-01-01")
    assert json_lines(err)[-1]["event"] == "done"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"owner": "nobody@example.com", "output": "-"}, "No user"),
        ({"account": "acc_missing", "output": "-"}, "No account"),
        ({"owner": "x@example.com", "output": "-", "json": True}, "write the CSV to a file"),
        ({"owner": "x@example.com", "output": "-", "from": "yesterday"}, "ISO 8601"),
        (
            {"owner": "x@example.com", "output": "-", "from": "2026-02-01", "to": "2026-01-01"},
            "before",
        ),
        ({"owner": "x@example.com", "output": "/no/such/dir/x.csv"}, "No such directory"),
    ],
)
def test_export_refuses_bad_arguments(user_factory, options, message):
    user_factory(email="x@example.com")
    with pytest.raises(CommandError, match=message):
        run("export_ledger", **options)
