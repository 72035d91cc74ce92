"""Identity (users, API keys) and the things money is held in (assets, ledger accounts)."""

import secrets
from typing import Any, ClassVar

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.models import PermissionsMixin
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from ledgerflow.fields import validate_metadata


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """A person (customer or operator). Email is the login; Telegram id is an optional alias."""

    email = models.EmailField(unique=True)
    # NULL, not "": many users have no Telegram id and unique must ignore them.
    telegram_id = models.CharField(max_length=64, unique=True, null=True, blank=True)
    is_staff = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    date_joined = models.DateTimeField(default=timezone.now)
    failed_login_count = models.PositiveIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    email_verified_at = models.DateTimeField(null=True, blank=True)
    # Carried in every JWT (`gen`); a password reset bumps it, so tokens issued before it are
    # refused wherever the user row is read (accounts.authentication).
    token_generation = models.PositiveIntegerField(default=0)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None


class LoginFailure(models.Model):
    """One wrong password for `user` from client `address` (the throttles' client address).

    Counted under the user's row lock: LOGIN_LOCKOUT_THRESHOLD of them from one address within
    LOGIN_LOCKOUT_SECONDS lock that address out of that user; LOGIN_LOCKOUT_USER_THRESHOLD from
    all addresses lock the user (`User.locked_until`). A login from an address clears that
    address's earlier failures; rows older than the window are deleted as new ones arrive.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="login_failures")
    # "" when the address is unknown (no REMOTE_ADDR): such callers share one bucket.
    address = models.CharField(max_length=45, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "address", "created_at"])]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.address or '?'} {self.created_at:%Y-%m-%d %H:%M:%S}"


def _key_prefix() -> str:
    return secrets.token_hex(4)


class ApiKey(models.Model):
    """A server credential acting for `user`. Only a SHA-256 of the secret is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, default=_key_prefix)
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Asset(models.Model):
    """A currency or token. `exponent` is the number of decimals of its minor unit."""

    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    exponent = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(
                condition=Q(exponent__gte=0) & Q(exponent__lte=18),
                name="accounts_asset_exponent_range",
            ),
        ]

    def __str__(self) -> str:
        return self.code


def _account_public_id() -> str:
    return f"acc_{secrets.token_hex(12)}"


class Account(models.Model):
    """Where one asset is held. Money columns are minor units (int64).

    `balance` is posted money; `pending_debits`/`pending_credits` are held by two-phase
    transfers; `version` is the sequence number of the account's last entry (0 = none).
    Only services write these columns, under `select_for_update`.
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        FROZEN = "frozen"
        CLOSED = "closed"

    class System(models.TextChoices):
        WORLD = "world", "World (money in and out)"
        VAULT = "vault", "Vault (order settlement)"
        ADJUSTMENTS = "adjustments", "Adjustments (operator corrections)"

    public_id = models.CharField(max_length=64, unique=True, default=_account_public_id)
    owner = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="accounts"
    )
    name = models.CharField(max_length=200, blank=True)
    asset = models.ForeignKey(Asset, on_delete=models.PROTECT, related_name="accounts")
    balance = models.BigIntegerField(default=0, help_text="Posted balance, minor units.")
    pending_debits = models.BigIntegerField(default=0, help_text="Held outflows, minor units.")
    pending_credits = models.BigIntegerField(default=0, help_text="Held inflows, minor units.")
    version = models.BigIntegerField(default=0, help_text="Sequence number of the last entry.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    allow_negative = models.BooleanField(default=False)
    overdraft_limit = models.BigIntegerField(
        default=0, help_text="How far below zero available funds may go, minor units."
    )
    max_balance = models.BigIntegerField(
        null=True, blank=True, help_text="Ceiling for balance plus held inflows, minor units."
    )
    system_code = models.CharField(  # noqa: DJ001 - NULL for customer accounts (partial unique)
        max_length=20, choices=System.choices, null=True, blank=True
    )
    metadata = models.JSONField(
        default=dict, blank=True, encoder=DjangoJSONEncoder, validators=[validate_metadata]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["asset", "system_code"],
                condition=Q(system_code__isnull=False),
                name="accounts_account_one_system_account_per_asset",
            ),
            # Invariant 3 of DESIGN §3 (available never below -overdraft_limit), enforced by
            # the database as a last line of defence.
            models.CheckConstraint(
                condition=Q(allow_negative=True)
                | Q(balance__gte=F("pending_debits") - F("overdraft_limit")),
                name="accounts_account_available_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(overdraft_limit__gte=0), name="accounts_account_overdraft_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(pending_debits__gte=0) & Q(pending_credits__gte=0),
                name="accounts_account_pending_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(system_code__isnull=True) | Q(owner__isnull=True),
                name="accounts_account_system_has_no_owner",
            ),
        ]
        indexes = [models.Index(fields=["owner", "created_at"])]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.asset_id and self.asset.code})"

    @property
    def available(self) -> int:
        return self.balance - self.pending_debits

    @property
    def spendable(self) -> int:
        """What a debit may take: available funds plus the overdraft allowance."""
        return self.available + self.overdraft_limit
