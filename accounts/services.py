"""Every write to identity and account rows (never balances: those belong to ledger.services)."""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.authentication import hash_key
from accounts.errors import AccountLocked, AuthenticationFailed, UnknownAsset
from accounts.locks import lock_accounts, lock_user
from accounts.models import Account, ApiKey, Asset, LoginFailure, User
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from webhooks.services import record_event


@transaction.atomic
def register_user(*, email: str, password: str, telegram_id: str | None = None) -> User:
    """Create a customer. Raises ValidationFailed for a taken email/telegram id or weak password."""
    email = email.strip().lower()
    domain = email.rpartition("@")[2]
    if domain in {d.lower() for d in settings.BLOCKED_EMAIL_DOMAINS}:
        raise ValidationFailed("Email domain not accepted.", {"email": ["Domain not accepted."]})
    if User.objects.filter(email=email).exists():
        raise ValidationFailed("Email already registered.", {"email": ["Already registered."]})
    if telegram_id and User.objects.filter(telegram_id=telegram_id).exists():
        raise ValidationFailed(
            "Telegram id already registered.", {"telegram_id": ["Already registered."]}
        )
    candidate = User(email=email, telegram_id=telegram_id or None)
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ValidationFailed("Password too weak.", {"password": list(exc.messages)}) from None
    try:
        with transaction.atomic():
            return User.objects.create_user(email, password, telegram_id=telegram_id or None)
    except IntegrityError:  # a concurrent registration won the race
        raise ValidationFailed(
            "Email already registered.", {"email": ["Already registered."]}
        ) from None


def check_login(*, email: str, password: str, address: str = "") -> User:
    """Authenticate with lockout per (user, client address) and per user.

    The slow password hash runs first, outside any lock; then the lockout is checked and the
    outcome recorded under the user's row lock, so concurrent guesses are counted exactly, no
    guess is let through past the limit, and a right password in flight neither lifts a lock
    set meanwhile nor wipes failures recorded while it was hashing. `address` is the client
    address as the throttles see it. Raises AccountLocked or AuthenticationFailed.
    """
    email = (email or "").strip().lower()
    started = timezone.now()
    authenticated = authenticate(email=email, password=password)
    if authenticated is not None:
        user_id = authenticated.pk
    else:
        user_id = User.objects.filter(email=email).values_list("pk", flat=True).first()
    if user_id is not None:
        user = _record_login(
            user_id=user_id,
            address=(address or "")[:45],
            started=started,
            succeeded=authenticated is not None,
        )
        if user is not None:
            return user
    # Raised after the failure committed (raising inside the atomic block would roll it back).
    raise AuthenticationFailed("No active account with these credentials.")


@retry_on_contention
@transaction.atomic
def _record_login(*, user_id: int, address: str, started, succeeded: bool) -> User | None:
    """Under the user's row lock: refuse if locked, else record the outcome. Returns the user
    on success, None for a counted failure."""
    user = lock_user(user_id)
    if user is None:  # deleted while the password was being checked
        return None
    now = timezone.now()
    window = timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS)
    if user.locked_until and user.locked_until > now:
        raise AccountLocked(
            "Too many failed logins; try again later.",
            retry_after=int((user.locked_until - now).total_seconds()) + 1,
        )
    threshold = settings.LOGIN_LOCKOUT_THRESHOLD
    recent = LoginFailure.objects.filter(user=user, address=address, created_at__gt=now - window)
    # The lock lasts until the threshold-th latest failure leaves the window (failures while
    # locked are not recorded, so it is not extended).
    latest = list(recent.order_by("-created_at").values_list("created_at", flat=True)[:threshold])
    if len(latest) >= threshold:
        raise AccountLocked(
            "Too many failed logins from this address; try again later.",
            retry_after=int((latest[-1] + window - now).total_seconds()) + 1,
        )
    failures = LoginFailure.objects.filter(user=user)
    if succeeded:
        # Only failures from before this attempt began: those recorded while its password was
        # being checked are someone else's guesses racing it and stay counted.
        failures.filter(address=address, created_at__lt=started).delete()
        user.last_login = now
        user.locked_until = None
        user.failed_login_count = failures.filter(created_at__gt=now - window).count()
        user.save(update_fields=["last_login", "locked_until", "failed_login_count"])
        return user
    LoginFailure.objects.create(user=user, address=address, created_at=now)
    failures.filter(created_at__lte=now - window).delete()  # keeps the table bounded
    user.failed_login_count = failures.count()
    if user.failed_login_count >= settings.LOGIN_LOCKOUT_USER_THRESHOLD:
        user.locked_until = now + window
    user.save(update_fields=["failed_login_count", "locked_until"])
    return None


def lift_login_lockout(*, user_id: int) -> None:
    """Operator override: forget the user's failed logins, so no address or lock remains."""
    with transaction.atomic():
        if lock_user(user_id) is not None:
            LoginFailure.objects.filter(user_id=user_id).delete()
            User.objects.filter(pk=user_id).update(failed_login_count=0, locked_until=None)


def refresh_access(*, refresh: str) -> str:
    """A new access token for a valid refresh token of an active user.

    Raises AuthenticationFailed for a bad, expired or wrong-type token or an inactive user.
    """
    try:
        token = RefreshToken(refresh)
    except TokenError as exc:
        raise AuthenticationFailed(str(exc)) from None
    user_id = token.payload.get(jwt_settings.USER_ID_CLAIM)
    if not User.objects.filter(pk=user_id, is_active=True).exists():
        raise AuthenticationFailed("No active account found for the given token.")
    return str(token.access_token)


def create_api_key(*, actor: User, name: str) -> tuple[ApiKey, str]:
    """A new key acting for `actor`. Returns the row and the raw key (shown once, never stored).

    Raises PermissionDenied unless the actor is staff: keys act as operators.
    """
    if not actor.is_staff:
        raise PermissionDenied("Only staff may create API keys.")
    prefix = secrets.token_hex(4)
    raw_key = f"lf_{prefix}_{secrets.token_urlsafe(32)}"
    api_key = ApiKey.objects.create(
        user=actor, name=name, prefix=prefix, hashed_key=hash_key(raw_key)
    )
    return api_key, raw_key


def revoke_api_key(*, actor: User, api_key_id: int) -> ApiKey:
    """Revoke a key; revoking a revoked key changes nothing. Raises NotFound."""
    api_key = ApiKey.objects.filter(pk=api_key_id).first()
    if api_key is None:
        raise NotFound("No such API key.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def asset_by_code(code: str) -> Asset:
    asset = Asset.objects.filter(code=code.upper()).first()
    if asset is None:
        raise UnknownAsset(f"Unknown asset {code!r}.", errors={"asset": ["Unknown asset."]})
    return asset


@transaction.atomic
def open_account(
    *, actor: User, asset_code: str, name: str = "", metadata: dict[str, Any] | None = None
) -> Account:
    """Open a customer account owned by `actor`; records `account.created`."""
    asset = asset_by_code(asset_code)
    account = Account.objects.create(owner=actor, asset=asset, name=name, metadata=metadata or {})
    record_event("account.created", account_event_data(account), accounts=[account])
    return account


def account_event_data(account: Account) -> dict[str, Any]:
    return {
        "id": account.public_id,
        "owner": account.owner_id,
        "name": account.name,
        "asset": account.asset.code,
        "status": account.status,
    }


def system_account(*, asset: Asset, system_code: str) -> Account:
    """The asset's world/vault/adjustments account, created on first use (race-safe)."""
    account = Account.objects.filter(asset=asset, system_code=system_code).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(
                asset=asset,
                system_code=system_code,
                allow_negative=True,
                name=f"{asset.code} {system_code}",
            )
    except IntegrityError:
        return Account.objects.get(asset=asset, system_code=system_code)


@transaction.atomic
def set_account_status(*, actor: User, account_id: int, status: str) -> Account:
    """Freeze, unfreeze or close an account (staff). Locks the row like a movement does.

    Raises InvalidState when reopening a closed account.
    """
    account = lock_accounts([account_id])[account_id]
    if account.status == Account.Status.CLOSED and status != Account.Status.CLOSED:
        raise InvalidState("A closed account stays closed.", account=account.public_id)
    if account.status != status:
        account.status = status
        account.save(update_fields=["status"])
    return account
