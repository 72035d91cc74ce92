"""The audit log, read-only, and the mixin that audits admin add/change/delete forms."""

from django.contrib import admin
from django.db import models

from audit.models import AuditLog
from audit.services import record_audit, state_of
from ledgerflow.admin_site import EstimatedCountPaginator, ReadOnlyAdmin


class AuditedModelAdmin(admin.ModelAdmin):
    """Records an AuditLog row for every add, change and delete made through the admin form.

    Django runs those views in one atomic block, so the row commits with the change. The
    state before a change is captured when the view loads the object. Bulk delete is removed:
    it runs outside that atomic block.
    """

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj._audit_before = state_of(obj)
        return obj

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def log_addition(self, request, obj, message):
        record_audit(request.user, _action(obj, "add"), obj, None, state_of(obj), request)
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        before = getattr(obj, "_audit_before", None)
        record_audit(request.user, _action(obj, "change"), obj, before, state_of(obj), request)
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            record_audit(request.user, _action(obj, "delete"), obj, state_of(obj), None, request)
        return super().log_deletions(request, queryset)


def _action(obj: models.Model, verb: str) -> str:
    return f"{obj._meta.model_name}.{verb}"


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    """History: nobody adds, edits or deletes audit rows, superusers included."""

    list_display = ("created_at", "actor", "action", "target_type", "target_id", "target_repr")
    list_display_links = ("created_at", "action")
    list_filter = ("action", ("actor", admin.RelatedOnlyFieldListFilter), "target_type")
    list_select_related = ("actor",)
    search_fields = ("=target_id", "target_repr", "=request_id", "actor__email")
    date_hierarchy = "created_at"
    ordering = ("-created_at", "-pk")
    show_full_result_count = False
    paginator = EstimatedCountPaginator
    fields = (
        "created_at",
        "actor",
        "action",
        "target_type",
        "target_id",
        "target_repr",
        "before",
        "after",
        "ip_address",
        "request_id",
    )
    readonly_fields = fields
