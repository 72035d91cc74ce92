"""The books in the admin: operators inspect, services write.

Transactions and entries are read-only for everybody (superusers included); corrections are
reversals, hold decisions and four-eyes adjustments, each an action that calls a service and
is audited in the same database transaction. Big tables count with the planner's estimate.
"""

import functools
from collections.abc import Callable
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts.admin import AccountAdmin
from accounts.models import Account, Asset
from accounts.permissions import AuthenticatedHttpRequest
from audit.admin import AuditedModelAdmin
from audit.services import audited
from ledger.models import (
    AdjustmentRequest,
    BalanceMonitor,
    Entry,
    HoldUnderReview,
    IdempotencyKey,
    RiskRule,
    Transaction,
)
from ledger.services import adjustments, post_pending, reverse_transaction, void_pending
from ledgerflow.admin_site import EstimatedCountPaginator, ReadOnly, ReadOnlyAdmin
from ledgerflow.errors import DomainError
from ledgerflow.money import (
    InvalidAmount,
    money_text,
    parse_decimal,
    parse_major,
    to_major,
    to_minor,
)

LATEST_ROWS = 20


def money(minor: int | None, asset: Asset) -> str:
    """Every admin amount: major units with the asset code ("12.50 USD")."""
    return "-" if minor is None else money_text(minor, asset)


def run_each(
    modeladmin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    action: str,
    run: Callable[[Model], object],
    done: str,
    after: Callable[[object], dict] | None = None,
) -> None:
    """One audited service call (one transaction) per selected row; report each outcome."""
    for obj in queryset.order_by("pk"):
        try:
            audited(
                request=request,
                action=action,
                target=obj,
                run=functools.partial(run, obj),
                after=after,
            )
        except DomainError as exc:
            modeladmin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
        else:
            modeladmin.message_user(request, f"{obj}: {done}.", messages.SUCCESS)


class BigTableAdmin(ReadOnlyAdmin):
    """No COUNT(*) of the whole table per page view."""

    show_full_result_count = False
    paginator = EstimatedCountPaginator


# --- transactions and entries ----------------------------------------------------------------


class EntryInline(ReadOnly, admin.TabularInline):
    model = Entry
    fields = ("account", "amount_display", "balance_after_display", "account_version")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("account__asset", "asset").order_by("pk")
        )

    @admin.display(description="amount")
    def amount_display(self, entry: Entry) -> str:
        return money(entry.amount, entry.asset)

    @admin.display(description="balance after")
    def balance_after_display(self, entry: Entry) -> str:
        return money(entry.balance_after, entry.asset)


class ReasonActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        max_length=200,
        label="reason (for reverse)",
        widget=forms.TextInput(attrs={"size": 40}),
    )


@admin.register(Transaction)
class TransactionAdmin(BigTableAdmin):
    action_form = ReasonActionForm
    actions = ["reverse_selected"]
    inlines = [EntryInline]
    list_display = (
        "public_id",
        "kind",
        "status",
        "amount_display",
        "reference",
        "created_by",
        "created_at",
    )
    list_filter = ("kind", "status", "asset")
    list_select_related = ("asset", "created_by")
    search_fields = ("=public_id", "reference")
    date_hierarchy = "created_at"
    ordering = ("-pk",)
    fields = (
        "public_id",
        "kind",
        "status",
        "amount_display",
        "asset",
        "reference",
        "category",
        "metadata",
        "created_by",
        "created_at",
        "hold_from",
        "hold_to",
        "held_amount_display",
        "expires_at",
        "hold_reason",
        "reverses",
    )
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, txn: Transaction) -> str:
        return money(txn.amount, txn.asset)

    @admin.display(description="held amount")
    def held_amount_display(self, txn: Transaction) -> str:
        return money(txn.held_amount, txn.asset) if txn.held_amount else "-"

    def has_reverse_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.reverse_transaction")

    @admin.action(
        description="Reverse selected transactions (reason above)", permissions=["reverse"]
    )
    def reverse_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Transaction]
    ) -> None:
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "Enter the reason for the reversal.", messages.ERROR)
            return
        run_each(
            self,
            request,
            queryset,
            "transaction.reverse",
            lambda txn: reverse_transaction(
                actor=request.user, transaction_id=txn.pk, reason=reason
            ),
            "reversed",
            after=lambda reversal: {
                "reversed_by": reversal.public_id,  # type: ignore[attr-defined]  # a Transaction
                "reason": reason,
            },
        )


@admin.register(HoldUnderReview)
class HoldUnderReviewAdmin(ReadOnlyAdmin):
    """Transfers a `review` risk rule held: funds stay reserved until an operator decides."""

    actions = ["approve_selected", "decline_selected"]
    list_display = (
        "public_id",
        "amount_display",
        "hold_from",
        "hold_to",
        "kind",
        "reference",
        "created_by",
        "created_at",
    )
    list_select_related = ("asset", "hold_from__asset", "hold_to__asset", "created_by")
    search_fields = ("=public_id", "reference", "=hold_from__public_id", "=hold_to__public_id")
    ordering = ("created_at", "pk")  # oldest first: a queue
    fields = TransactionAdmin.fields
    readonly_fields = fields

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .filter(status=Transaction.Status.PENDING, hold_reason=Transaction.HoldReason.REVIEW)
        )

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, txn: Transaction) -> str:
        return money(txn.amount, txn.asset)

    held_amount_display = TransactionAdmin.held_amount_display

    def has_review_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.review_hold")

    @admin.action(description="Approve: post the selected holds", permissions=["review"])
    def approve_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Transaction]
    ) -> None:
        run_each(
            self,
            request,
            queryset,
            "hold.approve",
            lambda txn: post_pending(actor=request.user, transaction_id=txn.pk),
            "posted",
        )

    @admin.action(description="Decline: void the selected holds", permissions=["review"])
    def decline_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Transaction]
    ) -> None:
        run_each(
            self,
            request,
            queryset,
            "hold.decline",
            lambda txn: void_pending(actor=request.user, transaction_id=txn.pk, reason="declined"),
            "voided",
        )


@admin.register(Entry)
class EntryAdmin(BigTableAdmin):
    list_display = (
        "pk",
        "transaction",
        "account",
        "amount_display",
        "balance_after_display",
        "account_version",
        "created_at",
    )
    list_filter = ("asset",)
    list_select_related = ("transaction", "account__asset", "asset")
    # Exact matches only: each is an indexed lookup on a table of millions.
    search_fields = ("=transaction__public_id", "=account__public_id")
    ordering = ("-pk",)
    fields = (
        "transaction",
        "account",
        "asset",
        "amount_display",
        "balance_after_display",
        "account_version",
        "created_at",
    )
    readonly_fields = fields

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, entry: Entry) -> str:
        return money(entry.amount, entry.asset)

    @admin.display(description="balance after")
    def balance_after_display(self, entry: Entry) -> str:
        return money(entry.balance_after, entry.asset)


# --- risk rules, monitors: configuration operators edit (audited) ----------------------------


class RiskRuleForm(forms.ModelForm):
    """`limit` typed in major units of the rule's asset (a count for transfers per minute);
    stored as minor units, as the API's amounts are."""

    limit = forms.CharField(
        help_text='Major units of the asset, e.g. "250.00"; for "Maximum transfers per minute" '
        "a whole number of transfers."
    )

    class Meta:
        model = RiskRule
        fields = ("name", "kind", "action", "asset", "account", "user", "limit", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["limit"] = _limit_text(self.instance, with_code=False)

    def clean(self):
        data = super().clean()
        kind, asset, account, text = (data.get(k) for k in ("kind", "asset", "account", "limit"))
        if account is not None and asset is not None and account.asset_id != asset.pk:
            self.add_error("account", f"This account holds {account.asset.code}, not {asset}.")
        if text is None:
            return data
        if kind == RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE:
            if text.strip().isascii() and text.strip().isdigit():
                data["limit"] = int(text)
            else:
                self.add_error("limit", "A whole number of transfers, e.g. 10.")
        elif asset is None:
            data.pop("limit")  # cannot convert without the asset; its own error shows
        else:
            try:
                data["limit"] = parse_major(text, asset.exponent, zero=True)
            except InvalidAmount as exc:
                self.add_error("limit", str(exc))
        return data


def _limit_text(rule: RiskRule, *, with_code: bool = True) -> str:
    if rule.kind == RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE:
        return f"{rule.limit} per minute" if with_code else str(rule.limit)
    return money(rule.limit, rule.asset) if with_code else to_major(rule.limit, rule.asset.exponent)


@admin.register(RiskRule)
class RiskRuleAdmin(AuditedModelAdmin):
    form = RiskRuleForm
    list_display = (
        "name",
        "kind",
        "action",
        "asset",
        "account",
        "user",
        "limit_display",
        "is_active",
    )
    list_filter = ("kind", "action", "is_active", "asset")
    list_select_related = ("asset", "account__asset", "user")
    search_fields = ("name", "=account__public_id", "user__email")
    raw_id_fields = ("account", "user")

    @admin.display(description="limit", ordering="limit")
    def limit_display(self, rule: RiskRule) -> str:
        return _limit_text(rule)


class BalanceMonitorForm(forms.ModelForm):
    """`threshold` typed in major units of the account's asset (may be zero or negative)."""

    threshold = forms.CharField(
        help_text='Major units of the account\'s asset, e.g. "100.00" (zero or negative too).'
    )

    class Meta:
        model = BalanceMonitor
        fields = ("account", "direction", "threshold", "is_active")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            monitor = self.instance
            self.initial["threshold"] = to_major(monitor.threshold, monitor.account.asset.exponent)

    def clean(self):
        data = super().clean()
        account, text = data.get("account"), data.get("threshold")
        if text is None:
            return data
        if account is None:
            data.pop("threshold")  # cannot convert without the asset; the account error shows
            return data
        try:
            data["threshold"] = parse_major(text, account.asset.exponent, signed=True, zero=True)
        except InvalidAmount as exc:
            self.add_error("threshold", str(exc))
        return data


@admin.register(BalanceMonitor)
class BalanceMonitorAdmin(AuditedModelAdmin):
    form = BalanceMonitorForm
    list_display = ("account", "direction", "threshold_display", "is_active", "created_at")
    list_filter = ("direction", "is_active")
    list_select_related = ("account__asset",)
    search_fields = ("=account__public_id",)
    raw_id_fields = ("account",)

    @admin.display(description="threshold", ordering="threshold")
    def threshold_display(self, monitor: BalanceMonitor) -> str:
        return money(monitor.threshold, monitor.account.asset)


# --- idempotency records: read-only ------------------------------------------------------


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(BigTableAdmin):
    # Status, principal, path and times only: stored bodies and the fingerprint stay hidden.
    fields = ("principal", "key", "method", "path", "response_status", "created_at", "expires_at")
    list_display = ("principal", "key", "method", "path", "response_status", "created_at")
    list_filter = ("method", "response_status")
    search_fields = ("=principal", "=key")
    ordering = ("-pk",)


# --- manual adjustments: four eyes ---------------------------------------------------------


class AdjustmentProposalForm(forms.ModelForm):
    amount = forms.CharField(help_text='Major units of the account\'s asset, e.g. "12.50".')

    class Meta:
        model = AdjustmentRequest
        fields = ("account", "amount", "direction", "reason")

    def clean(self):
        data = super().clean()
        account, text = data.get("account"), data.get("amount")
        if account is None:
            data.pop("amount", None)  # cannot convert without the asset; the account error shows
        elif text:
            try:
                self.major_amount = parse_decimal(text)
                # The model field holds minor units; the service converts again from major.
                data["amount"] = to_minor(self.major_amount, account.asset.exponent)
            except InvalidAmount as exc:
                self.add_error("amount", str(exc))
        return data


@admin.register(AdjustmentRequest)
class AdjustmentRequestAdmin(AuditedModelAdmin):
    """Proposed by someone with `request_adjustment`, decided by someone else with
    `approve_adjustment`; only an approval posts money."""

    form = AdjustmentProposalForm
    actions = ["approve_selected", "reject_selected"]
    list_display = (
        "pk",
        "account",
        "direction",
        "amount_display",
        "reason",
        "status",
        "proposed_by",
        "decided_by",
        "transaction",
        "created_at",
    )
    list_filter = ("status", "direction")
    list_select_related = ("account__asset", "proposed_by", "decided_by", "transaction")
    search_fields = ("=account__public_id", "reason", "proposed_by__email")
    autocomplete_fields = ("account",)
    ordering = ("-pk",)
    readonly_fields = (
        "amount_display",
        "status",
        "proposed_by",
        "decided_by",
        "decided_at",
        "transaction",
        "created_at",
    )

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("account", "amount", "direction", "reason")
        return ("account", "direction", "reason", *self.readonly_fields)

    def get_readonly_fields(self, request, obj=None):
        return ("account", "direction", "reason", *self.readonly_fields) if obj else ()

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, adjustment: AdjustmentRequest) -> str:
        return money(adjustment.amount, adjustment.account.asset)

    def has_view_permission(self, request, obj=None):
        user = request.user
        return super().has_view_permission(request, obj) or any(
            user.has_perm(p) for p in ("ledger.request_adjustment", "ledger.approve_adjustment")
        )

    def has_add_permission(self, request):
        return request.user.has_perm("ledger.request_adjustment")

    def has_change_permission(self, request, obj=None):
        return False  # decided by the actions, never edited

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = adjustments.propose_adjustment(
            actor=request.user,
            account_id=obj.account_id,
            amount=Decimal(form.major_amount),
            direction=obj.direction,
            reason=obj.reason,
        )
        obj.pk = created.pk
        obj.refresh_from_db()

    def has_approve_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ledger.approve_adjustment")

    @admin.action(description="Approve: post the selected adjustments", permissions=["approve"])
    def approve_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            "adjustmentrequest.approve",
            lambda adj: adjustments.approve_adjustment(actor=request.user, adjustment_id=adj.pk),
            "approved and posted",
        )

    @admin.action(description="Reject the selected adjustments", permissions=["approve"])
    def reject_selected(self, request, queryset):
        run_each(
            self,
            request,
            queryset,
            "adjustmentrequest.reject",
            lambda adj: adjustments.reject_adjustment(actor=request.user, adjustment_id=adj.pk),
            "rejected",
        )


# --- the account page shows its latest history ---------------------------------------------
# accounts/ must not import ledger (dependencies point orders -> ledger -> accounts), so the
# ledger extends the account admin registered by accounts/admin.py.

admin.site.unregister(Account)


@admin.register(Account)
class AccountWithHistoryAdmin(AccountAdmin):
    """reporting/admin.py extends it again with the account's snapshots."""

    fields = (*AccountAdmin.fields, "history_links", "latest_entries")
    readonly_fields = (*AccountAdmin.readonly_fields, "history_links", "latest_entries")

    def history(self, account: Account) -> list[tuple[str, str]]:
        """(url, label) of the links of the `history` field, in order."""
        return [
            (
                reverse("admin:ledger_entry_changelist") + f"?account__id__exact={account.pk}",
                "All entries",
            ),
            (
                reverse("admin:ledger_adjustmentrequest_add") + f"?account={account.pk}",
                "Propose an adjustment",
            ),
        ]

    @admin.display(description="history")
    def history_links(self, account: Account) -> str:
        return format_html_join(" · ", '<a href="{}">{}</a>', self.history(account))

    @admin.display(description=f"latest {LATEST_ROWS} entries")
    def latest_entries(self, account: Account) -> str:
        rows = (
            Entry.objects.filter(account=account)
            .select_related("transaction")
            .order_by("-account_version")[:LATEST_ROWS]
        )
        return html_table(
            ("version", "transaction", "kind", "amount", "balance after", "at"),
            [
                (
                    entry.account_version,
                    _transaction_link(entry.transaction),
                    entry.transaction.kind,
                    money(entry.amount, account.asset),
                    money(entry.balance_after, account.asset),
                    f"{entry.created_at:%Y-%m-%d %H:%M:%S}",
                )
                for entry in rows
            ],
        )


def _transaction_link(txn: Transaction) -> str:
    url = reverse("admin:ledger_transaction_change", args=[txn.pk])
    return format_html('<a href="{}">{}</a>', url, txn.public_id)


def html_table(header: tuple[str, ...], rows: list[tuple]) -> str:
    if not rows:
        return "none"
    head = format_html_join("", "<th>{}</th>", ((name,) for name in header))
    body = format_html_join(
        "",
        "<tr>{}</tr>",
        ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows),
    )
    return format_html("<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", head, body)
