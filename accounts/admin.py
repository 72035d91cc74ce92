"""Operator screens for identity and accounts. Money columns are read-only; status goes
through `set_account_status` (row lock), API keys through `create_api_key` (hash only)."""

from functools import partial
from typing import ClassVar

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import GroupAdmin as DjangoGroupAdmin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group, Permission
from django.db.models import Q

from accounts import services
from accounts.models import Account, ApiKey, Asset, User
from audit.admin import AuditedModelAdmin
from audit.services import audited
from ledgerflow.errors import DomainError
from ledgerflow.money import money_text


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email",)

    def clean_email(self) -> str:
        # Stored lower-case like the API does, so the unique check is case-insensitive.
        return self.cleaned_data["email"].strip().lower()


class UserEditForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()


@admin.register(User)
class UserAdmin(AuditedModelAdmin, DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    ordering = ("email",)
    list_display = ("email", "telegram_id", "is_staff", "is_active", "locked_until", "date_joined")
    list_filter = ("is_staff", "is_superuser", "is_active")
    search_fields = ("email", "telegram_id")
    readonly_fields = ("failed_login_count", "last_login", "date_joined")
    fieldsets = (
        (None, {"fields": ("email", "password", "telegram_id")}),
        (
            "Permissions",
            {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")},
        ),
        # Clearing `locked_until` lifts a user-wide lockout early; the "Lift login lockout"
        # action also forgets the failures that lock single addresses.
        (
            "Sign-in",
            {"fields": ("failed_login_count", "locked_until", "last_login", "date_joined")},
        ),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "usable_password", "password1", "password2"),
            },
        ),
    )

    actions = ["lift_lockout_selected"]

    def has_lift_lockout_permission(self, request):
        return request.user.has_perm("accounts.change_user")

    @admin.action(description="Lift login lockout of selected users", permissions=["lift_lockout"])
    def lift_lockout_selected(self, request, queryset):
        for user in queryset.order_by("pk"):
            audited(
                request=request,
                action="user.lift_lockout",
                target=user,
                run=lambda user=user: services.lift_login_lockout(user_id=user.pk),
            )
        self.message_user(request, f"Lifted the lockout of {queryset.count()} user(s).")

    # Privileges are granted by superusers only: a staff user who could tick these (for
    # themselves or for a second account of theirs) could approve their own adjustments.
    PRIVILEGE_FIELDS = ("is_superuser", "groups", "user_permissions")

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        if request.user.is_superuser or obj is None:
            return readonly
        readonly += self.PRIVILEGE_FIELDS
        if obj.pk == request.user.pk:
            readonly += ("is_staff",)
        return readonly

    def has_change_permission(self, request, obj=None):
        return super().has_change_permission(request, obj) and self._may_manage(request, obj)

    def has_delete_permission(self, request, obj=None):
        return super().has_delete_permission(request, obj) and self._may_manage(request, obj)

    @staticmethod
    def _may_manage(request, obj) -> bool:
        """A non-superuser edits (email, password, ...) only users with no more rights than
        their own: taking over a superuser's or a better-privileged operator's login would be
        an escalation too. Their own row is always theirs (privilege fields stay read-only)."""
        if obj is None or request.user.is_superuser or obj.pk == request.user.pk:
            return True
        if obj.is_superuser:
            return False
        # Read from the tables: `get_all_permissions()` is empty for an inactive user, who
        # could be reactivated in the same form.
        held = Permission.objects.filter(Q(user=obj) | Q(group__user=obj)).values_list(
            "content_type__app_label", "codename"
        )
        return {f"{app}.{codename}" for app, codename in held} <= request.user.get_all_permissions()


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(AuditedModelAdmin, DjangoGroupAdmin):
    """Roles are sets of permissions: only superusers create, change or delete them, or a staff
    user with `change_group` could add `approve_adjustment` to their own group."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class ApiKeyCreateForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("name",)


@admin.register(ApiKey)
class ApiKeyAdmin(AuditedModelAdmin):
    """Keys are created for the operator adding them; the secret is shown once, then only its
    hash exists. Keys are revoked, never edited or deleted, so their use stays traceable."""

    list_display = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    list_select_related = ("user",)
    search_fields = ("name", "prefix", "user__email")
    readonly_fields = ("name", "prefix", "user", "created_at", "last_used_at", "revoked_at")
    exclude = ("hashed_key",)
    actions = ["revoke_selected"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyCreateForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_readonly_fields(self, request, obj=None):
        return self.readonly_fields if obj else ()

    def get_fields(self, request, obj=None):
        return ApiKeyCreateForm.Meta.fields if obj is None else self.readonly_fields

    def save_model(self, request, obj, form, change):
        created, raw_key = services.create_api_key(actor=request.user, name=obj.name)
        obj.pk = created.pk
        obj.refresh_from_db()
        self.message_user(
            request,
            f"API key {obj.prefix}: {raw_key} — copy it now, it is not stored and will not be "
            "shown again.",
            messages.WARNING,
        )

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_revoke_permission(self, request):
        return request.user.has_perm("accounts.change_apikey")

    @admin.action(description="Revoke selected API keys", permissions=["revoke"])
    def revoke_selected(self, request, queryset):
        for api_key in queryset.order_by("pk"):
            audited(
                request=request,
                action="apikey.revoke",
                target=api_key,
                run=lambda api_key=api_key: services.revoke_api_key(
                    actor=request.user, api_key_id=api_key.pk
                ),
            )
        self.message_user(request, f"Revoked {queryset.count()} key(s).", messages.SUCCESS)


@admin.register(Asset)
class AssetAdmin(AuditedModelAdmin):
    list_display = ("code", "name", "exponent")
    search_fields = ("code", "name")

    def get_readonly_fields(self, request, obj=None):
        # Changing the exponent would rescale every stored minor-unit amount of the asset.
        return ("code", "exponent") if obj else ()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Account)
class AccountAdmin(AuditedModelAdmin):
    """Balances are written only by ledger services; operators rename, annotate, freeze."""

    list_display = (
        "public_id",
        "owner",
        "asset",
        "name",
        "balance_display",
        "available_display",
        "status",
        "system_code",
        "created_at",
    )
    list_filter = ("status", "asset", "allow_negative", "system_code")
    list_select_related = ("owner", "asset")
    search_fields = ("public_id", "name", "owner__email")
    date_hierarchy = "created_at"
    fields: ClassVar[tuple[str, ...]] = (
        "public_id",
        "owner",
        "asset",
        "name",
        "metadata",
        "status",
        "balance_display",
        "available_display",
        "pending_debits_display",
        "pending_credits_display",
        "version",
        "allow_negative",
        "system_code",
        "created_at",
    )
    readonly_fields: ClassVar[tuple[str, ...]] = tuple(
        f for f in fields if f not in ("name", "metadata")
    )
    actions = ["freeze_selected", "unfreeze_selected"]

    def has_add_permission(self, request, obj=None):
        return False  # opened through the API, which records `account.created`

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Only the editable columns: a full save would write back balances read when the form
        # was loaded, undoing movements posted since.
        obj.save(update_fields=["name", "metadata"])

    @admin.display(description="balance", ordering="balance")
    def balance_display(self, account: Account) -> str:
        return money_text(account.balance, account.asset)

    @admin.display(description="available")
    def available_display(self, account: Account) -> str:
        return money_text(account.available, account.asset)

    @admin.display(description="pending debits")
    def pending_debits_display(self, account: Account) -> str:
        return money_text(account.pending_debits, account.asset)

    @admin.display(description="pending credits")
    def pending_credits_display(self, account: Account) -> str:
        return money_text(account.pending_credits, account.asset)

    def has_status_permission(self, request):
        return request.user.has_perm("accounts.change_account")

    @admin.action(description="Freeze selected accounts", permissions=["status"])
    def freeze_selected(self, request, queryset):
        self._set_status(request, queryset, Account.Status.FROZEN, "freeze")

    @admin.action(description="Unfreeze selected accounts", permissions=["status"])
    def unfreeze_selected(self, request, queryset):
        self._set_status(request, queryset, Account.Status.ACTIVE, "unfreeze")

    def _set_status(self, request, queryset, status: str, verb: str) -> None:
        done = 0
        for account in queryset.order_by("pk"):
            try:
                audited(
                    request=request,
                    action=f"account.{verb}",
                    target=account,
                    run=partial(
                        services.set_account_status,
                        actor=request.user,
                        account_id=account.pk,
                        status=status,
                    ),
                )
            except DomainError as exc:
                self.message_user(request, f"{account.public_id}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done} account(s) now {status}.", messages.SUCCESS)
