"""Every write to identity and account rows (never balances: those belong to ledger.services)."""

import secrets
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts import roles, tokens
from accounts.authentication import hash_key
from accounts.errors import (
    AccountHasPendingHolds,
    AccountHasPendingOrders,
    AccountInactive,
    AccountLocked,
    AccountNotEmpty,
    AuthenticationFailed,
    InvalidToken,
    TokenExpired,
    UnknownAsset,
)
from accounts.locks import lock_accounts, lock_refresh_token, lock_user
from accounts.models import Account, ApiKey, Asset, LoginFailure, User
from accounts.permissions import CHANGE_ACCOUNTS
from accounts.tokens import GENERATION_CLAIM, new_refresh_token
from audit.services import record_audit
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from ledgerflow.money import to_major
from ledgerflow.permissions import has_right
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
            user = User.objects.create_user(email, password, telegram_id=telegram_id or None)
            user.groups.add(*Group.objects.filter(name=roles.CUSTOMER))
            return user
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
    user_id: int | None
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


def _refresh_token(raw: str) -> RefreshToken:
    """A valid refresh token: signed, unexpired, not revoked. Raises AuthenticationFailed."""
    try:
        # checks the blacklist too (token_blacklist installed). simplejwt annotates the argument
        # as a Token; it is the encoded token (str).
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise AuthenticationFailed(str(exc)) from None


def _outstanding(token: RefreshToken, *, lock: bool = False) -> OutstandingToken:
    """The token's OutstandingToken row (made for tokens issued before revocation existed)."""
    jti = token[jwt_settings.JTI_CLAIM]
    OutstandingToken.objects.get_or_create(
        jti=jti,
        defaults={
            "user_id": User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM))
            .values_list("pk", flat=True)
            .first(),
            "token": "",
            "created_at": timezone.now(),
            "expires_at": datetime_from_epoch(token["exp"]),
        },
    )
    return lock_refresh_token(jti) if lock else OutstandingToken.objects.get(jti=jti)


@retry_on_contention
@transaction.atomic
def rotate_refresh(*, refresh: str) -> tuple[str, str]:
    """A new access token and a new refresh token; the presented refresh token is revoked.

    Under the token's row lock, so two concurrent uses of one refresh token give one new
    pair and one 401. Raises AuthenticationFailed for a bad, expired, wrong-type, revoked
    (rotated or logged out) token, one issued before a password reset, or an inactive user.
    """
    token = _refresh_token(refresh)
    outstanding = _outstanding(token, lock=True)
    if BlacklistedToken.objects.filter(token=outstanding).exists():
        raise AuthenticationFailed("Token is blacklisted")
    user = User.objects.filter(pk=token.get(jwt_settings.USER_ID_CLAIM), is_active=True).first()
    if user is None:
        raise AuthenticationFailed("No active account found for the given token.")
    if token.get(GENERATION_CLAIM, 0) != user.token_generation:
        raise AuthenticationFailed("Token was revoked (password reset); sign in again.")
    BlacklistedToken.objects.create(token=outstanding)
    # Claims from the row as it is now: a user promoted or demoted since gets the new `stf`.
    fresh = new_refresh_token(user)
    return str(fresh.access_token), str(fresh)


@transaction.atomic
def logout(*, actor: User, refresh: str) -> None:
    """Revoke the caller's refresh token (its access tokens live out their few minutes).

    Raises AuthenticationFailed for a bad, expired or already revoked token, InvalidToken for
    another user's.
    """
    token = _refresh_token(refresh)
    if str(token.get(jwt_settings.USER_ID_CLAIM)) != str(actor.pk):
        raise InvalidToken("This refresh token is not yours.", errors={"refresh": ["Not yours."]})
    BlacklistedToken.objects.get_or_create(token=_outstanding(token, lock=True))


# --- email verification and password reset -------------------------------------------------
# The request endpoints only enqueue mail (accounts.tasks builds the token when it sends):
# the token appears in the message alone, never in a response, a log line or the broker, and
# the response takes the same time whether or not the address is known.


def _send_on_commit(user_id: int, kind: str) -> None:
    from accounts.tasks import send_account_email

    transaction.on_commit(lambda: send_account_email.delay(user_id, kind), robust=True)


def request_email_verification(*, actor: User) -> None:
    """Mail the caller a verification link, unless their email is verified already."""
    if actor.email_verified_at is None and actor.is_active:
        _send_on_commit(actor.pk, "verify_email")


def request_password_reset(*, email: str) -> None:
    """Mail a reset link if an active user has this email; do nothing otherwise (the caller
    answers 202 either way, so the answer tells nothing about which emails exist)."""
    user_id = (
        User.objects.filter(email=(email or "").strip().lower(), is_active=True)
        .values_list("pk", flat=True)
        .first()
    )
    if user_id is not None:
        _send_on_commit(user_id, "password_reset")


def _token_owner(purpose, token: str) -> tuple[User, str]:
    """Lock and return the user a mailed token names, and its state hash.

    Raises TokenExpired or InvalidToken (forged, another purpose's, unknown or inactive user).
    """
    try:
        user_id, state = tokens.read_token(purpose, token)
    except tokens.TokenExpired:
        raise TokenExpired("The link has expired; ask for a new one.") from None
    except tokens.TokenInvalid:
        raise _invalid_token() from None
    user = lock_user(user_id)
    if user is None or not user.is_active:
        raise _invalid_token()
    return user, state


def _invalid_token(reason: str = "The token is not valid.") -> InvalidToken:
    return InvalidToken(reason, errors={"token": [reason]})


@retry_on_contention
@transaction.atomic
def confirm_email_verification(*, token: str) -> User:
    """Mark the token's user's email verified. Single use: verifying changes the state the
    token was signed over. Raises TokenExpired or InvalidToken (also when used before)."""
    user, state = _token_owner(tokens.EMAIL_VERIFICATION, token)
    if not tokens.state_matches(tokens.EMAIL_VERIFICATION, state, user):
        raise _invalid_token("The token was used already or no longer matches the account.")
    user.email_verified_at = timezone.now()
    user.save(update_fields=["email_verified_at"])
    record_audit(
        user, "user.verify_email", user, {"email_verified": False}, {"email_verified": True}
    )
    return user


@retry_on_contention
@transaction.atomic
def confirm_password_reset(*, token: str, password: str) -> User:
    """Set a new password (Django's validators) and end every session of the user.

    Ending sessions: every outstanding refresh token is blacklisted and the user's token
    generation is bumped, so access tokens issued before are refused wherever the user row
    is read and wherever money moves. Single use: the new password changes the state the token
    was signed over. The user proved they read the mail: the email counts as verified and a
    login lockout is lifted. Raises TokenExpired, InvalidToken or ValidationFailed (password).
    """
    user, state = _token_owner(tokens.PASSWORD_RESET, token)
    if not tokens.state_matches(tokens.PASSWORD_RESET, state, user):
        raise _invalid_token("The token was used already or no longer matches the account.")
    try:
        validate_password(password, user=user)
    except DjangoValidationError as exc:
        raise ValidationFailed("Password too weak.", {"password": list(exc.messages)}) from None
    user.set_password(password)
    user.token_generation += 1
    user.email_verified_at = user.email_verified_at or timezone.now()
    user.locked_until, user.failed_login_count = None, 0
    user.save(
        update_fields=[
            "password",
            "token_generation",
            "email_verified_at",
            "locked_until",
            "failed_login_count",
        ]
    )
    LoginFailure.objects.filter(user=user).delete()
    revoked = tokens.revoke_all_refresh_tokens(user.pk)
    record_audit(user, "user.password_reset", user, None, {"refresh_tokens_revoked": revoked})
    return user


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

    Closing obeys the rules of `close_account` (zero balance, nothing pending). Raises
    InvalidState when reopening a closed account, or close_account's errors.
    """
    account = lock_accounts([account_id])[account_id]
    if account.status == Account.Status.CLOSED and status != Account.Status.CLOSED:
        raise InvalidState("A closed account stays closed.", account=account.public_id)
    if status == Account.Status.CLOSED and account.status != status:
        _ensure_closable(account)
        _close(actor, account)
    elif account.status != status:
        account.status = status
        account.save(update_fields=["status"])
    return account


# --- account lifecycle ---------------------------------------------------------------------


@retry_on_contention
@transaction.atomic
def update_account(
    *,
    actor: User,
    account_id: int,
    name: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Account:
    """Rename an account or replace its metadata (None leaves a field as it is), under the
    row lock; records `account.updated` when something changed (and an audit row when staff
    did it). Raises AccountInactive for a closed account: its record is final."""
    account = lock_accounts([account_id])[account_id]
    if account.status == Account.Status.CLOSED:
        raise AccountInactive(
            f"Account {account.public_id} is closed; it can no longer change.",
            account=account.public_id,
        )
    before = {"name": account.name, "metadata": account.metadata}
    changes = {
        field: value
        for field, value in (("name", name), ("metadata", metadata))
        if value is not None and value != before[field]
    }
    if not changes:
        return account
    for field, value in changes.items():
        setattr(account, field, value)
    account.save(update_fields=list(changes))
    record_event(
        "account.updated",
        {**account_event_data(account), "metadata": account.metadata, "changed": sorted(changes)},
        accounts=[account],
    )
    if actor.is_staff:
        record_audit(actor, "account.update", account, before, {**before, **changes})
    return account


@retry_on_contention
@transaction.atomic
def close_account(*, actor: User, account_id: int) -> Account:
    """Close an account for good: it refuses every movement from now on and stays readable.

    Race-safe against movements: the account's row lock is taken first (the lock every
    movement and order creation takes), so a transfer either lands before and the balance is
    not zero, or comes after and finds the account closed. Raises AccountNotEmpty,
    AccountHasPendingHolds, AccountHasPendingOrders, InvalidState (system account, already
    closed) or AccountInactive (a frozen account, for its owner: operators decide those).
    """
    account = lock_accounts([account_id])[account_id]
    if account.status == Account.Status.FROZEN and not has_right(actor, CHANGE_ACCOUNTS):
        raise AccountInactive(
            f"Account {account.public_id} is frozen; an operator must close it.",
            account=account.public_id,
        )
    _ensure_closable(account)
    _close(actor, account)
    return account


def _ensure_closable(account: Account) -> None:
    """Under the account's row lock. Raises the reason it cannot be closed, if any."""
    ref = {"account": account.public_id}
    if account.system_code or account.allow_negative:
        raise InvalidState("System accounts cannot be closed.", **ref)
    if account.status == Account.Status.CLOSED:
        raise InvalidState(f"Account {account.public_id} is already closed.", **ref)
    if account.pending_debits or account.pending_credits:
        exponent, code = account.asset.exponent, account.asset.code
        raise AccountHasPendingHolds(
            f"Account {account.public_id} has pending holds "
            f"({to_major(account.pending_debits, exponent)} {code} out, "
            f"{to_major(account.pending_credits, exponent)} {code} in): post or void them first.",
            **ref,
        )
    if account.balance:
        raise AccountNotEmpty(
            f"Account {account.public_id} holds "
            f"{to_major(account.balance, account.asset.exponent)} {account.asset.code}: "
            "move the balance out first.",
            **ref,
        )
    # The one read of another app's table here: accounts may not import orders, and the
    # check must be made under this row lock, which order creation takes too.
    if account.orders.filter(status="pending").exists():
        raise AccountHasPendingOrders(
            f"Account {account.public_id} has pending payment orders: cancel them or let "
            "them complete or expire first.",
            **ref,
        )


def _close(actor: User | None, account: Account) -> None:
    before = account.status
    account.status = Account.Status.CLOSED
    account.save(update_fields=["status"])
    record_event("account.closed", account_event_data(account), accounts=[account])
    record_audit(actor, "account.close", account, {"status": before}, {"status": account.status})


# --- user administration (staff) -------------------------------------------------------------


def _rights_of(user: User) -> set[str]:
    """Permissions held directly or through groups, read from the tables (an inactive user's
    `get_all_permissions()` is empty, and they could be reactivated)."""
    held = Permission.objects.filter(Q(user=user) | Q(group__user=user)).values_list(
        "content_type__app_label", "codename"
    )
    return {f"{app}.{codename}" for app, codename in held}


def _ensure_may_manage(actor: User, target: User) -> None:
    """The admin's rules (accounts.admin.UserAdmin): nobody changes their own standing here,
    only superusers touch superusers, and a non-superuser manages only users holding no right
    they lack themselves (taking over a better-privileged login is an escalation too)."""
    if target.pk == actor.pk:
        raise PermissionDenied("You cannot change your own account's status or role.")
    if actor.is_superuser:
        return
    if target.is_superuser:
        raise PermissionDenied("Only superusers may change a superuser.")
    if not _rights_of(target) <= actor.get_all_permissions():
        raise PermissionDenied("This user holds rights you do not hold.")


def user_state(user: User) -> dict[str, Any]:
    return {"is_active": user.is_active, "is_staff": user.is_staff, "role": roles.role_of(user)}


def _set_active(*, actor: User, user_id: int, active: bool) -> User:
    user = lock_user(user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    _ensure_may_manage(actor, user)
    if user.is_active == active:
        return user
    before = user_state(user)
    user.is_active = active
    user.save(update_fields=["is_active"])
    if not active:
        # Their tokens stop at once anyway (every path checks is_active); revoked refresh
        # tokens also mean a reactivated user signs in afresh.
        tokens.revoke_all_refresh_tokens(user.pk)
    action = "user.reactivate" if active else "user.deactivate"
    record_audit(actor, action, user, before, user_state(user))
    return user


@retry_on_contention
@transaction.atomic
def deactivate_user(*, actor: User, user_id: int) -> User:
    """The user can no longer sign in, refresh, or use their API keys; their refresh tokens
    are revoked. Deactivating an inactive user changes nothing. Raises NotFound or
    PermissionDenied (self, a superuser, or a user with rights the actor lacks)."""
    return _set_active(actor=actor, user_id=user_id, active=False)


@retry_on_contention
@transaction.atomic
def reactivate_user(*, actor: User, user_id: int) -> User:
    """Undo a deactivation (the user signs in again). Raises as deactivate_user."""
    return _set_active(actor=actor, user_id=user_id, active=True)


@retry_on_contention
@transaction.atomic
def set_user_role(*, actor: User, user_id: int, role: str) -> User:
    """Make `role` (a group of permissions) the user's only role; staff roles set `is_staff`,
    customer clears it. Permissions granted to the user directly stay as they are.

    Raises NotFound, ValidationFailed (unknown role) or PermissionDenied: the rules of
    `_ensure_may_manage`, and a non-superuser grants no role holding a right they lack.
    """
    group = Group.objects.filter(name=role, name__in=roles.ROLES).first()
    if group is None:
        raise ValidationFailed(
            f"Unknown role {role!r}.", {"role": [f"One of: {', '.join(roles.ROLES)}."]}
        )
    user = lock_user(user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    _ensure_may_manage(actor, user)
    granted = {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }
    if not actor.is_superuser and not granted <= actor.get_all_permissions():
        raise PermissionDenied(f"The {role} role holds rights you do not hold.")
    before = user_state(user)
    user.groups.remove(*Group.objects.filter(name__in=roles.ROLES).exclude(pk=group.pk))
    user.groups.add(group)
    staff = role != roles.CUSTOMER
    if user.is_staff != staff:
        user.is_staff = staff
        user.save(update_fields=["is_staff"])
    after = user_state(user)
    if after != before:
        record_audit(actor, "user.set_role", user, before, after)
    return user
