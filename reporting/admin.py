"""Reporting rows in the admin, read-only: snapshots, exports, verification runs; and the
latest snapshots on the account page (extending the ledger's account admin)."""

from django.contrib import admin
from django.urls import reverse

from accounts.models import Account
from ledger.admin import (
    LATEST_ROWS,
    AccountWithHistoryAdmin,
    BigTableAdmin,
    html_table,
    money,
)
from ledgerflow.admin_site import ReadOnlyAdmin
from reporting.models import BalanceSnapshot, Export, VerificationRun


@admin.register(BalanceSnapshot)
class BalanceSnapshotAdmin(BigTableAdmin):
    list_display = ("account", "balance_display", "held_display", "version", "taken_at")
    list_select_related = ("account__asset",)
    search_fields = ("=account__public_id",)
    ordering = ("-pk",)

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, snapshot: BalanceSnapshot) -> str:
        return money(snapshot.balance, snapshot.account.asset)

    @admin.display(description="held")
    def held_display(self, snapshot: BalanceSnapshot) -> str:
        return money(snapshot.pending_debits, snapshot.account.asset)


@admin.register(Export)
class ExportAdmin(ReadOnlyAdmin):
    list_display = ("public_id", "owner", "kind", "account", "status", "row_count", "created_at")
    list_filter = ("status", "kind")
    list_select_related = ("owner", "account__asset")
    search_fields = ("=public_id", "owner__email")
    date_hierarchy = "created_at"
    exclude = ("file",)


@admin.register(VerificationRun)
class VerificationRunAdmin(ReadOnlyAdmin):
    list_display = ("checked_at", "violation_count")
    ordering = ("-checked_at", "-pk")
    date_hierarchy = "checked_at"


# --- the account page shows its latest snapshots too ---------------------------------------
# The ledger must not import reporting (reporting -> ledger), so reporting extends the account
# admin that ledger/admin.py registered.

admin.site.unregister(Account)


@admin.register(Account)
class AccountWithSnapshotsAdmin(AccountWithHistoryAdmin):
    fields = (*AccountWithHistoryAdmin.fields, "latest_snapshots")
    readonly_fields = (*AccountWithHistoryAdmin.readonly_fields, "latest_snapshots")

    def history(self, account: Account) -> list[tuple[str, str]]:
        entries, *others = super().history(account)
        snapshots = (
            reverse("admin:reporting_balancesnapshot_changelist")
            + f"?account__id__exact={account.pk}"
        )
        return [entries, (snapshots, "All snapshots"), *others]

    @admin.display(description=f"latest {LATEST_ROWS} snapshots")
    def latest_snapshots(self, account: Account) -> str:
        rows = BalanceSnapshot.objects.filter(account=account).order_by("-taken_at")[:LATEST_ROWS]
        return html_table(
            ("taken at", "balance", "held out", "held in", "version"),
            [
                (
                    f"{snapshot.taken_at:%Y-%m-%d %H:%M:%S}",
                    money(snapshot.balance, account.asset),
                    money(snapshot.pending_debits, account.asset),
                    money(snapshot.pending_credits, account.asset),
                    snapshot.version,
                )
                for snapshot in rows
            ],
        )
