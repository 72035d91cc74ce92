from typing import Any

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts import roles
from accounts.models import Account, ApiKey
from ledgerflow.fields import MetadataField
from ledgerflow.money import to_major

_TEXT: dict[str, Any] = {"required": False, "allow_blank": True, "default": ""}


class AccountSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="public_id", read_only=True)
    owner = serializers.SerializerMethodField()
    asset = serializers.CharField(source="asset.code")
    balance = serializers.SerializerMethodField()
    available = serializers.SerializerMethodField()
    pending_debits = serializers.SerializerMethodField()
    pending_credits = serializers.SerializerMethodField()

    class Meta:
        model = Account
        fields = [
            "id",
            "owner",
            "name",
            "asset",
            "balance",
            "available",
            "pending_debits",
            "pending_credits",
            "status",
            "allow_negative",
            "metadata",
            "created_at",
        ]

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_owner(self, account: Account) -> int | None:
        return account.owner_id

    def _money(self, account: Account, value: int) -> str:
        return to_major(value, account.asset.exponent)

    @extend_schema_field(str)
    def get_balance(self, account: Account) -> str:
        return self._money(account, account.balance)

    @extend_schema_field(str)
    def get_available(self, account: Account) -> str:
        return self._money(account, account.available)

    @extend_schema_field(str)
    def get_pending_debits(self, account: Account) -> str:
        return self._money(account, account.pending_debits)

    @extend_schema_field(str)
    def get_pending_credits(self, account: Account) -> str:
        return self._money(account, account.pending_credits)


class AccountCreateSerializer(serializers.Serializer):
    asset = serializers.CharField(help_text="Asset code: USD, EUR, GBP, JPY, USDC, …")
    name = serializers.CharField(max_length=200, **_TEXT)
    metadata = MetadataField()


class UserSerializer(serializers.ModelSerializer):
    email_verified = serializers.BooleanField(read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "email", "telegram_id", "is_staff", "email_verified", "date_joined"]


class ManagedUserSerializer(serializers.ModelSerializer):
    """A user as user administration sees it."""

    email_verified = serializers.BooleanField(read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = get_user_model()
        fields = [
            "id",
            "email",
            "telegram_id",
            "role",
            "is_staff",
            "is_superuser",
            "is_active",
            "email_verified",
            "date_joined",
            "last_login",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=list(roles.ROLES), allow_null=True))
    def get_role(self, user) -> str | None:
        return roles.role_of(user)


class UserFilterSerializer(serializers.Serializer):
    email = serializers.CharField(required=False, default="", help_text="Part of the email.")
    role = serializers.ChoiceField(choices=list(roles.ROLES), required=False, default="")
    is_active = serializers.BooleanField(required=False, allow_null=True, default=None)
    is_staff = serializers.BooleanField(required=False, allow_null=True, default=None)
    email_verified = serializers.BooleanField(required=False, allow_null=True, default=None)


class UserRoleUpdateSerializer(serializers.Serializer):
    role = serializers.ChoiceField(
        choices=list(roles.ROLES), help_text="The user's only role from now on."
    )


class AccountUpdateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False, allow_blank=True)
    metadata = MetadataField(required=False, help_text="Replaces the whole metadata object.")


class TokenConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token from the mailed link.")


class PasswordResetRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=1000, help_text="The token from the mailed link.")
    password = serializers.CharField(write_only=True, style={"input_type": "password"})


class LogoutRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class AcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()


class RegisterRequestSerializer(serializers.Serializer):
    email = serializers.EmailField()
    password = serializers.CharField(write_only=True, style={"input_type": "password"})
    telegram_id = serializers.CharField(max_length=64, required=False, allow_null=True)


class TokenRequestSerializer(serializers.Serializer):
    email = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()


class TokenRefreshRequestSerializer(serializers.Serializer):
    refresh = serializers.CharField()


class ApiKeySerializer(serializers.ModelSerializer):
    class Meta:
        model = ApiKey
        fields = ["id", "name", "prefix", "created_at", "last_used_at", "revoked_at"]


class ApiKeyCreatedSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The secret. Shown once; store it now.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "key"]


class ApiKeyCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)


class AccountEventDataSerializer(serializers.Serializer):
    """The account an `account.*` event is about."""

    id = serializers.CharField()
    owner = serializers.IntegerField(allow_null=True, help_text="The owner's user id.")
    name = serializers.CharField(allow_blank=True)
    asset = serializers.CharField()
    status = serializers.ChoiceField(choices=Account.Status.choices)
    metadata = serializers.DictField(
        required=False, help_text="`account.updated` only: the metadata after the change."
    )
    changed = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="`account.updated` only: the fields that changed.",
    )
