from collections.abc import Callable
from functools import partial

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.permissions import AuthenticatedHttpRequest
from audit.admin import AuditedModelAdmin
from audit.services import audited
from ledgerflow.errors import DomainError
from ledgerflow.money import money_text
from orders import services
from orders.models import Order


class OrderActionForm(ActionForm):
    tx_hash = forms.CharField(
        required=False,
        label="tx_hash (for complete)",
        widget=forms.TextInput(attrs={"size": 70, "placeholder": "0x…"}),
    )


class StatusPendingFirstFilter(admin.SimpleListFilter):
    """Status, defaulting to the operator queue (pending) when a page is shown without a
    search; a search (say, by tx hash) and an action on selected rows cover every status."""

    title = "status"
    parameter_name = "status__exact"
    ALL = "all"

    def __init__(self, request, params, model, model_admin):
        super().__init__(request, params, model, model_admin)
        if (
            self.parameter_name not in self.used_parameters
            and request.method == "GET"
            and not request.GET.get("q")
        ):
            self.used_parameters[self.parameter_name] = Order.Status.PENDING

    def lookups(self, request, model_admin):
        return [(self.ALL, "All"), *Order.Status.choices]

    def choices(self, changelist):
        for value, label in self.lookup_choices:
            yield {
                "selected": self.value() == value or (value == self.ALL and self.value() is None),
                "query_string": changelist.get_query_string({self.parameter_name: value}),
                "display": label,
            }

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value in (None, self.ALL) else queryset.filter(status=value)


@admin.register(Order)
class OrderAdmin(AuditedModelAdmin):
    """Orders are changed only through the services (the same as the API's), by the actions."""

    action_form = OrderActionForm
    actions = ["complete_selected", "fail_selected", "cancel_selected"]
    list_display = [
        "order_id",
        "account_id_display",
        "owner_display",
        "amount_display",
        "received_display",
        "status",
        "tx_hash",
        "created_at",
        "expires_at",
    ]
    list_filter = [StatusPendingFirstFilter, "asset"]
    list_select_related = ["account__owner", "asset"]
    search_fields = ["=order_id", "=tx_hash", "=account__public_id", "account__owner__email"]
    ordering = ["created_at", "pk"]
    date_hierarchy = "created_at"
    fields = (
        "order_id",
        "account",
        "amount_display",
        "received_display",
        "status",
        "broker_id",
        "sequence",
        "vault_address",
        "tx_hash",
        "settlement",
        "expires_at",
        "created_at",
        "updated_at",
        "completed_at",
    )
    readonly_fields = fields

    @admin.display(description="account", ordering="account__public_id")
    def account_id_display(self, order: Order) -> str:
        return order.account.public_id

    @admin.display(description="owner", ordering="account__owner__email")
    def owner_display(self, order: Order) -> str:
        owner = order.account.owner
        return owner.email if owner is not None else "-"

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, order: Order) -> str:
        return money_text(order.amount, order.asset)

    @admin.display(description="received (review)", ordering="received_amount")
    def received_display(self, order: Order) -> str:
        """What the indexer saw arrive when it differed from `amount` (needs_review)."""
        if order.received_amount is None:
            return "-"
        return money_text(order.received_amount, order.asset)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        # The changelist actions need "change"; a single order's page is view-only.
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    @admin.action(description="Complete the selected order (tx_hash above)", permissions=["change"])
    def complete_selected(
        self, request: AuthenticatedHttpRequest, queryset: QuerySet[Order]
    ) -> None:
        tx_hash = request.POST.get("tx_hash", "").strip()
        if queryset.count() != 1 or not tx_hash:
            self.message_user(
                request,
                "Select exactly one order and enter the tx_hash of its payment.",
                messages.ERROR,
            )
            return
        self._apply(
            request,
            queryset,
            "complete",
            "completed",
            lambda order: services.complete_order(
                actor=request.user, order_pk=order.pk, tx_hash=tx_hash
            ),
        )

    @admin.action(description="Fail the selected orders", permissions=["change"])
    def fail_selected(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(
            request,
            queryset,
            "fail",
            "failed",
            lambda order: services.fail_order(actor=request.user, order_pk=order.pk),
        )

    @admin.action(description="Cancel the selected orders", permissions=["change"])
    def cancel_selected(self, request: AuthenticatedHttpRequest, queryset: QuerySet[Order]) -> None:
        self._apply(
            request,
            queryset,
            "cancel",
            "cancelled",
            lambda order: services.cancel_order(actor=request.user, order_pk=order.pk),
        )

    def _apply(
        self,
        request: HttpRequest,
        queryset: QuerySet[Order],
        verb: str,
        done: str,
        run: Callable[[Order], Order],
    ) -> None:
        """One audited service call (one transaction) per order; report each outcome."""
        for order in queryset.order_by("pk"):
            try:
                audited(
                    request=request,
                    action=f"order.{verb}",
                    target=order,
                    run=partial(run, order),
                )
            except DomainError as exc:
                self.message_user(request, f"{order.order_id}: {exc.detail}", messages.ERROR)
            else:
                self.message_user(request, f"{order.order_id}: {done}.", messages.SUCCESS)
