"""Tokens: the signed single-use links mailed to users, and the JWT refresh-token lifecycle.

Mailed tokens (email verification, password reset) are `django.core.signing` values carrying
the user id and a hash of the user's state that the token's use changes, in the style of
Django's PasswordResetTokenGenerator: a verification token stops matching once the email is
verified (or changed), a reset token once the password changes or the user logs in. So a token
works once, expires after its timeout (the signature's timestamp) and is bound to its user;
each purpose has its own salt, so one kind is never accepted as the other. Nothing is stored.

Refresh tokens are simplejwt's, tracked by its token_blacklist app (OutstandingToken per jti,
BlacklistedToken when revoked). Only the jti is kept: the stored `token` column stays empty,
so the database and the admin hold no usable credential.
"""

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.utils.crypto import constant_time_compare, salted_hmac
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import datetime_from_epoch

from accounts.models import User

STAFF_CLAIM = "stf"  # the user was staff when the token was issued
GENERATION_CLAIM = "gen"  # User.token_generation when the token was issued


@dataclass(frozen=True)
class Purpose:
    salt: str
    timeout_setting: str

    def state(self, user: User) -> str:
        raise NotImplementedError


class _EmailVerification(Purpose):
    def state(self, user: User) -> str:
        # Verifying sets email_verified_at; changing the email changes `email`.
        return f"{user.pk}|{user.email}|{user.email_verified_at}"


class _PasswordReset(Purpose):
    def state(self, user: User) -> str:
        # As Django's generator: a new password or a later login invalidates the token.
        login = user.last_login.replace(microsecond=0, tzinfo=None) if user.last_login else ""
        return f"{user.pk}|{user.password}|{login}|{user.email}|{user.token_generation}"


EMAIL_VERIFICATION = _EmailVerification("accounts.email-verification", "EMAIL_VERIFICATION_TIMEOUT")
PASSWORD_RESET = _PasswordReset("accounts.password-reset", "PASSWORD_RESET_TIMEOUT")


class TokenExpired(Exception):
    pass


class TokenInvalid(Exception):
    pass


def _state_hash(purpose: Purpose, user: User) -> str:
    return salted_hmac(purpose.salt, purpose.state(user), algorithm="sha256").hexdigest()[:32]


def make_token(purpose: Purpose, user: User) -> str:
    return signing.dumps({"u": user.pk, "s": _state_hash(purpose, user)}, salt=purpose.salt)


def read_token(purpose: Purpose, token: str) -> tuple[int, str]:
    """The user id and state hash of a well-signed, unexpired token of this purpose.

    Raises TokenExpired or TokenInvalid (forged, tampered, another purpose's, malformed).
    """
    try:
        payload = signing.loads(
            token, salt=purpose.salt, max_age=getattr(settings, purpose.timeout_setting)
        )
    except signing.SignatureExpired:
        raise TokenExpired from None
    except signing.BadSignature:
        raise TokenInvalid from None
    if not (
        isinstance(payload, dict)
        and isinstance(payload.get("u"), int)
        and isinstance(payload.get("s"), str)
    ):
        raise TokenInvalid
    return payload["u"], payload["s"]


def state_matches(purpose: Purpose, state_hash: str, user: User) -> bool:
    """Does the token's state hash match the user as they are now (unused, still theirs)?"""
    return constant_time_compare(state_hash, _state_hash(purpose, user))


# --- JWT refresh tokens ---------------------------------------------------------------------


def new_refresh_token(user: User) -> RefreshToken:
    """A refresh token (its access token inherits the claims) for `user`, recorded as
    outstanding so that it can be revoked: `stf` says whether the user is staff (the stateless
    path of ClaimsJWTAuthentication), `gen` its token generation."""
    refresh = RefreshToken()
    refresh[jwt_settings.USER_ID_CLAIM] = str(user.pk)
    refresh[STAFF_CLAIM] = bool(user.is_staff)
    refresh[GENERATION_CLAIM] = user.token_generation
    OutstandingToken.objects.create(
        user=user,
        jti=refresh[jwt_settings.JTI_CLAIM],
        token="",  # never the token itself (see the module docstring)
        created_at=refresh.current_time,
        expires_at=datetime_from_epoch(refresh["exp"]),
    )
    return refresh


def revoke_all_refresh_tokens(user_id: int) -> int:
    """Blacklist every refresh token of the user that is not yet; returns how many."""
    outstanding = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    rows = [BlacklistedToken(token_id=pk) for pk in outstanding.values_list("pk", flat=True)]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
