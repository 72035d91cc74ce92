from django.contrib import admin, messages

from ledgerflow.admin_site import ReadOnlyAdmin
from ledgerflow.errors import DomainError
from webhooks import services
from webhooks.models import Delivery, Event, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    """Owners register endpoints through the API (URL checks, secret shown once)."""

    list_display = ("public_id", "owner", "url", "is_active", "secret_hint", "created_at")
    list_filter = ("is_active",)
    list_select_related = ("owner",)
    search_fields = ("public_id", "url", "owner__email", "description")
    date_hierarchy = "created_at"
    fields = (
        "public_id",
        "owner",
        "url",
        "events",
        "secret_hint",
        "is_active",
        "description",
        "created_at",
    )
    readonly_fields = ("public_id", "owner", "url", "events", "secret_hint", "created_at")

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="secret")
    def secret_hint(self, endpoint: WebhookEndpoint) -> str:
        return endpoint.secret_hint


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ("id", "type", "owner", "account", "created_at")
    list_filter = ("type",)
    list_select_related = ("owner", "account")
    search_fields = ("=id", "type", "owner__email")
    date_hierarchy = "created_at"
    readonly_fields = ("id", "type", "payload", "account", "owner", "visible_to", "created_at")


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = (
        "public_id",
        "event",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status",)
    list_select_related = ("event", "endpoint")
    search_fields = ("public_id", "=event__id", "endpoint__public_id", "endpoint__url")
    date_hierarchy = "created_at"
    readonly_fields = [field.name for field in Delivery._meta.fields]
    actions = ["retry_selected"]

    @admin.action(description="Retry selected failed deliveries", permissions=["retry"])
    def retry_selected(self, request, queryset):
        retried = 0
        for delivery in queryset.order_by("pk"):
            try:
                services.retry_delivery(actor=request.user, delivery_id=delivery.pk)
                retried += 1
            except DomainError as exc:
                self.message_user(request, f"{delivery}: {exc.detail}", messages.ERROR)
        if retried:
            self.message_user(request, f"{retried} delivery(ies) queued again.", messages.SUCCESS)

    def has_retry_permission(self, request):
        return request.user.is_staff
