"""The ledger in the admin: read-only books, audited reversals, hold reviews, four-eyes
adjustments, and the account page's latest history."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages

from accounts.models import Account, Asset
from accounts.services import system_account
from accounts.tests.factories import UserFactory
from audit.models import AuditLog
from ledger import services
from ledger.models import AdjustmentRequest, BalanceMonitor, Entry, RiskRule, Transaction
from ledger.services import adjustments
from ledgerflow.errors import InvalidState, PermissionDenied
from ledgerflow.errors import ValidationFailed as Invalid
from reporting import services as reporting

pytestmark = pytest.mark.django_db


def operator(*codenames, superuser=False):
    user = UserFactory(is_staff=True, is_superuser=superuser)
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return user


@pytest.fixture
def superuser():
    return operator(superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def act(client, url, action, objects, **fields):
    response = client.post(
        url, {"action": action, "_selected_action": [o.pk for o in objects], **fields}, follow=True
    )
    assert response.status_code == 200
    return [str(m) for m in get_messages(response.wsgi_request)]


def books():
    """Everything money: to assert that a refused action changed nothing."""
    return (
        Transaction.objects.count(),
        Entry.objects.count(),
        sorted(Account.objects.values_list("pk", "balance", "pending_debits")),
    )


@pytest.fixture
def deposit(customer, funded):
    account = funded(customer, "40.00")
    return Transaction.objects.get(kind=Transaction.Kind.DEPOSIT, entries__account=account)


# --- transactions and entries are read-only for everybody -----------------------------------


@pytest.mark.parametrize("model", ["transaction", "entry"])
def test_nobody_adds_changes_or_deletes_posted_history(admin_client, deposit, model):
    row = deposit if model == "transaction" else Entry.objects.filter(transaction=deposit).first()
    before = books()
    base = f"/admin/ledger/{model}/"

    assert admin_client.get(f"{base}add/").status_code == 403
    assert admin_client.post(f"{base}add/", {"amount": 1}).status_code == 403
    assert admin_client.post(f"{base}{row.pk}/change/", {"amount": 999}).status_code == 403
    assert admin_client.get(f"{base}{row.pk}/delete/").status_code == 403
    assert admin_client.post(f"{base}{row.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = admin_client.get(base)
    assert changelist.status_code == 200
    assert "delete_selected" not in changelist.content.decode()
    assert books() == before


def test_transaction_page_shows_its_entries_read_only(admin_client, deposit):
    response = admin_client.get(f"/admin/ledger/transaction/{deposit.pk}/change/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "40.00 USD" in page
    assert "-40.00 USD" in page  # the world account's leg, in the inline
    assert 'name="_save"' not in page


@pytest.mark.parametrize(
    "query",
    [{"kind__exact": "deposit"}, {"status__exact": "posted"}, {"asset__id__exact": 1}, {"q": "x"}],
)
def test_transaction_filters(admin_client, deposit, query):
    assert admin_client.get("/admin/ledger/transaction/", query).status_code == 200


# --- reversal --------------------------------------------------------------------------------


def test_reverse_action_reverses_and_audits(admin_client, superuser, deposit, customer):
    messages = act(
        admin_client,
        "/admin/ledger/transaction/",
        "reverse_selected",
        [deposit],
        reason="duplicate deposit",
        REMOTE_ADDR="192.0.2.8",
    )

    assert messages == [f"{deposit.public_id}: reversed."]
    reversal = Transaction.objects.get(reverses=deposit)
    assert reversal.created_by == superuser
    assert reversal.metadata == {"reason": "duplicate deposit"}
    assert Account.objects.get(owner=customer).balance == 0
    row = AuditLog.objects.get(action="transaction.reverse")
    assert (row.target_id, row.actor) == (str(deposit.pk), superuser)
    assert row.after == {"reversed_by": reversal.public_id, "reason": "duplicate deposit"}


def test_reverse_needs_a_reason_and_reports_refusals_per_row(admin_client, deposit):
    before = books()
    assert act(admin_client, "/admin/ledger/transaction/", "reverse_selected", [deposit]) == [
        "Enter the reason for the reversal."
    ]
    assert books() == before

    act(admin_client, "/admin/ledger/transaction/", "reverse_selected", [deposit], reason="r")
    after_first = books()
    messages = act(
        admin_client, "/admin/ledger/transaction/", "reverse_selected", [deposit], reason="r"
    )

    assert messages == [f"{deposit.public_id}: This transaction has already been reversed."]
    assert books() == after_first
    assert AuditLog.objects.filter(action="transaction.reverse").count() == 1


def test_reverse_action_needs_the_reverse_permission(client, deposit):
    client.force_login(operator("view_transaction"))
    before = books()

    listing = client.get("/admin/ledger/transaction/")
    assert listing.status_code == 200
    assert "reverse_selected" not in listing.content.decode()
    act(client, "/admin/ledger/transaction/", "reverse_selected", [deposit], reason="r")

    assert books() == before
    client.force_login(operator("view_transaction", "reverse_transaction"))
    act(client, "/admin/ledger/transaction/", "reverse_selected", [deposit], reason="r")
    assert Transaction.objects.filter(reverses=deposit).exists()


# --- holds under review ---------------------------------------------------------------------


@pytest.fixture
def review_holds(customer, other_customer, funded):
    source, target = funded(customer, "1000.00"), funded(other_customer, "0")
    RiskRule.objects.create(
        name="review big",
        kind=RiskRule.Kind.REVIEW_THRESHOLD,
        action=RiskRule.Action.REVIEW,
        asset=source.asset,
        limit=10000,
    )
    holds = [
        services.post_transfer(
            actor=customer,
            from_account_id=source.pk,
            to_account_id=target.pk,
            amount=Decimal(amount),
        )
        for amount in ("100.00", "200.00")
    ]
    ordinary_hold = services.post_transfer(  # pending but not for review: not listed
        actor=customer,
        from_account_id=source.pk,
        to_account_id=target.pk,
        amount=Decimal("1.00"),
        pending=True,
    )
    return source, target, holds, ordinary_hold


def test_holds_under_review_are_listed_approved_and_declined(admin_client, review_holds):
    source, target, (first, second), ordinary_hold = review_holds
    url = "/admin/ledger/holdunderreview/"

    page = admin_client.get(url).content.decode()
    assert first.public_id in page
    assert second.public_id in page
    assert ordinary_hold.public_id not in page

    assert act(admin_client, url, "approve_selected", [first]) == [f"{first.public_id}: posted."]
    assert act(admin_client, url, "decline_selected", [second]) == [f"{second.public_id}: voided."]

    source.refresh_from_db()
    target.refresh_from_db()
    assert (source.balance, source.pending_debits) == (90000, 100)
    assert target.balance == 10000
    actions = set(AuditLog.objects.values_list("action", flat=True))
    # The operator's two decisions, and the money movements they caused (plus the review holds).
    assert {"hold.approve", "hold.decline"} <= actions
    assert {"money.transfer.pending", "money.transfer.posted", "money.transfer.voided"} <= actions
    assert act(admin_client, url, "approve_selected", [first]) == []  # no longer listed


# --- four-eyes adjustments: the service -------------------------------------------------------


@pytest.fixture
def proposer():
    return operator("request_adjustment")


@pytest.fixture
def approver():
    return operator("approve_adjustment")


@pytest.fixture
def account(customer, funded):
    return funded(customer, "10.00")


def propose(proposer, account, amount="2.50", direction="credit", reason="goodwill"):
    return adjustments.propose_adjustment(
        actor=proposer,
        account_id=account.pk,
        amount=Decimal(amount),
        direction=direction,
        reason=reason,
    )


def test_approval_by_another_operator_posts_the_adjustment(proposer, approver, account):
    adjustment = propose(proposer, account)
    assert adjustment.amount == 250
    assert Transaction.objects.filter(kind="adjustment").count() == 0

    adjustments.approve_adjustment(actor=approver, adjustment_id=adjustment.pk)

    adjustment.refresh_from_db()
    txn = adjustment.transaction
    assert (adjustment.status, adjustment.decided_by) == ("approved", approver)
    assert (txn.kind, txn.created_by, txn.amount) == ("adjustment", approver, 250)
    assert txn.reference == f"adjustment {adjustment.pk}: goodwill"
    account.refresh_from_db()
    assert account.balance == 1250
    counter = system_account(asset=account.asset, system_code=Account.System.ADJUSTMENTS)
    assert counter.balance == -250


def test_a_debit_adjustment_lowers_the_balance(proposer, approver, account):
    adjustment = propose(proposer, account, "4.00", "debit")
    adjustments.approve_adjustment(actor=approver, adjustment_id=adjustment.pk)
    account.refresh_from_db()
    assert account.balance == 600


def test_nobody_approves_their_own_proposal(account):
    both = operator("request_adjustment", "approve_adjustment")
    adjustment = propose(both, account)
    before = books()

    with pytest.raises(PermissionDenied):
        adjustments.approve_adjustment(actor=both, adjustment_id=adjustment.pk)
    with pytest.raises(PermissionDenied):
        adjustments.reject_adjustment(actor=both, adjustment_id=adjustment.pk)

    adjustment.refresh_from_db()
    assert adjustment.status == "proposed"
    assert books() == before


def test_permissions_are_required_to_propose_and_to_decide(proposer, account, staff):
    with pytest.raises(PermissionDenied):
        propose(staff, account)
    adjustment = propose(proposer, account)
    with pytest.raises(PermissionDenied):
        adjustments.approve_adjustment(
            actor=operator("request_adjustment"), adjustment_id=adjustment.pk
        )
    assert AdjustmentRequest.objects.get().status == "proposed"


def test_a_decided_adjustment_cannot_be_decided_again(proposer, approver, account):
    adjustment = propose(proposer, account)
    adjustments.reject_adjustment(actor=approver, adjustment_id=adjustment.pk)
    before = books()

    with pytest.raises(InvalidState):
        adjustments.approve_adjustment(
            actor=operator("approve_adjustment"), adjustment_id=adjustment.pk
        )

    assert books() == before
    assert AdjustmentRequest.objects.get().status == "rejected"


def test_a_debit_beyond_the_funds_is_refused_and_stays_proposed(proposer, approver, account):
    from ledger.errors import InsufficientFunds

    adjustment = propose(proposer, account, "10.01", "debit")
    before = books()

    with pytest.raises(InsufficientFunds):
        adjustments.approve_adjustment(actor=approver, adjustment_id=adjustment.pk)

    assert books() == before
    adjustment.refresh_from_db()
    assert (adjustment.status, adjustment.decided_by) == ("proposed", None)


def test_a_frozen_account_can_still_be_corrected(proposer, approver, account):
    Account.objects.filter(pk=account.pk).update(status=Account.Status.FROZEN)
    adjustment = propose(proposer, account)
    adjustments.approve_adjustment(actor=approver, adjustment_id=adjustment.pk)
    account.refresh_from_db()
    assert account.balance == 1250


@pytest.mark.parametrize(
    ("amount", "direction", "reason"),
    [("2.501", "credit", "r"), ("0", "credit", "r"), ("1", "sideways", "r"), ("1", "credit", " ")],
)
def test_invalid_proposals_are_refused(proposer, account, amount, direction, reason):
    with pytest.raises(Invalid):
        propose(proposer, account, amount, direction, reason)
    assert not AdjustmentRequest.objects.exists()


# --- four-eyes adjustments: the admin ---------------------------------------------------------


def test_admin_proposal_then_approval_by_someone_else(client, proposer, approver, account):
    client.force_login(proposer)
    form = client.get(f"/admin/ledger/adjustmentrequest/add/?account={account.pk}")
    assert form.status_code == 200
    response = client.post(
        "/admin/ledger/adjustmentrequest/add/",
        {"account": account.pk, "amount": "3.25", "direction": "credit", "reason": "refund fee"},
    )
    assert response.status_code == 302
    adjustment = AdjustmentRequest.objects.get()
    assert (adjustment.amount, adjustment.proposed_by) == (325, proposer)
    listing = client.get("/admin/ledger/adjustmentrequest/").content.decode()
    assert "approve_selected" not in listing  # a proposer without approve permission
    assert AuditLog.objects.get(action="adjustmentrequest.add").actor == proposer

    client.force_login(approver)
    url = "/admin/ledger/adjustmentrequest/"
    messages = act(client, url, "approve_selected", [adjustment])
    adjustment.refresh_from_db()
    assert messages == [f"{adjustment}: approved and posted."]
    assert adjustment.status == "approved"
    account.refresh_from_db()
    assert account.balance == 1325
    row = AuditLog.objects.get(action="adjustmentrequest.approve")
    assert (row.actor, row.before["status"], row.after["status"]) == (
        approver,
        "proposed",
        "approved",
    )


def test_admin_refuses_approving_ones_own_proposal(client, account):
    both = operator("request_adjustment", "approve_adjustment")
    adjustment = propose(both, account)
    client.force_login(both)
    before = books()

    messages = act(client, "/admin/ledger/adjustmentrequest/", "approve_selected", [adjustment])

    assert "Nobody decides their own proposal" in messages[0]
    assert books() == before
    assert not AuditLog.objects.filter(action="adjustmentrequest.approve").exists()


def test_admin_proposal_form_rejects_excess_decimals(client, proposer, account):
    client.force_login(proposer)
    response = client.post(
        "/admin/ledger/adjustmentrequest/add/",
        {"account": account.pk, "amount": "1.234", "direction": "credit", "reason": "r"},
    )
    assert response.status_code == 200
    assert "amount" in response.context["adminform"].form.errors
    assert not AdjustmentRequest.objects.exists()


def test_adjustments_are_not_edited_or_deleted(admin_client, proposer, account):
    adjustment = propose(proposer, account)
    url = f"/admin/ledger/adjustmentrequest/{adjustment.pk}/"
    assert admin_client.post(f"{url}change/", {"reason": "x"}).status_code == 403
    assert admin_client.post(f"{url}delete/", {"post": "yes"}).status_code == 403
    adjustment.refresh_from_db()
    assert adjustment.reason == "goodwill"


# --- configuration and read-only rows -------------------------------------------------------


def test_risk_rule_edits_are_audited(admin_client):
    usd = Asset.objects.get(code="USD").pk  # not a fixed pk: flushes renumber the assets
    response = admin_client.post(
        "/admin/ledger/riskrule/add/",
        {
            "name": "cap",
            "kind": "max_amount",
            "action": "reject",
            "asset": usd,
            "limit": "50.00",  # major units; stored as 5000
            "is_active": "on",
            "created_at_0": "2025-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = RiskRule.objects.get()
    admin_client.post(
        f"/admin/ledger/riskrule/{rule.pk}/change/",
        {
            "name": "cap",
            "kind": "max_amount",
            "action": "reject",
            "asset": usd,
            "limit": "70.00",
            "created_at_0": "2025-01-01",
            "created_at_1": "00:00:00",
        },
    )
    admin_client.post(f"/admin/ledger/riskrule/{rule.pk}/delete/", {"post": "yes"})

    rows = {row.action: row for row in AuditLog.objects.all()}
    assert set(rows) == {"riskrule.add", "riskrule.change", "riskrule.delete"}
    assert (rows["riskrule.change"].before["limit"], rows["riskrule.change"].after["limit"]) == (
        5000,
        7000,
    )
    assert (
        rows["riskrule.change"].before["is_active"],
        rows["riskrule.change"].after["is_active"],
    ) == (True, False)
    assert rows["riskrule.delete"].after is None
    assert not RiskRule.objects.exists()


def test_balance_monitor_is_editable_and_audited(admin_client, account):
    response = admin_client.post(
        "/admin/ledger/balancemonitor/add/",
        {
            "account": account.pk,
            "threshold": "1.00",  # major units; stored as 100
            "direction": "below",
            "is_active": "on",
            "created_at_0": "2025-01-01",
            "created_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    assert BalanceMonitor.objects.get().threshold == 100
    assert AuditLog.objects.filter(action="balancemonitor.add").exists()


@pytest.mark.parametrize(
    "model",
    [
        "ledger/idempotencykey",
        "reporting/balancesnapshot",
        "reporting/export",
        "reporting/verificationrun",
        "ledger/holdunderreview",
    ],
)
def test_reporting_rows_are_read_only(admin_client, model):
    assert admin_client.get(f"/admin/{model}/").status_code == 200
    assert admin_client.get(f"/admin/{model}/add/").status_code == 403


# --- the account page ------------------------------------------------------------------------


def test_account_page_shows_latest_entries_and_snapshots(admin_client, customer, funded, staff):
    account = funded(customer, "1.00")
    for _ in range(24):
        services.post_deposit(actor=staff, account_id=account.pk, amount=Decimal("1.00"))
    reporting.take_snapshots()

    page = admin_client.get(f"/admin/accounts/account/{account.pk}/change/").content.decode()

    assert "Latest 20 entries" in page
    assert "<td>25.00 USD</td>" in page  # balance after the newest entry
    assert "<td>5.00 USD</td>" not in page  # entry 5 is older than the latest 20
    assert "<td>25</td>" in page  # the snapshot's version
    assert f"?account={account.pk}" in page  # propose an adjustment
