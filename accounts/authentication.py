"""`Authorization: Api-Key <key>` for servers (stored as SHA-256; shown once), and Bearer
JWTs that cost customers no database read on the hot endpoints."""

import hashlib

from django.conf import settings
from django.db.models import Exists
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.errors import AuthenticationFailed, EmailNotVerified
from accounts.models import ApiKey, User
from accounts.tokens import GENERATION_CLAIM, STAFF_CLAIM, new_refresh_token

__all__ = ["STAFF_CLAIM", "ApiKeyAuthentication", "ClaimsJWTAuthentication", "token_pair_for"]

KEYWORD = "Api-Key"


def hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


class ApiKeyAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.headers.get("Authorization", "")
        keyword, _, raw_key = header.partition(" ")
        if keyword != KEYWORD:
            return None
        raw_key = raw_key.strip()
        if not raw_key:
            raise AuthenticationFailed("Empty API key.")
        api_key = ApiKey.objects.select_related("user").filter(hashed_key=hash_key(raw_key)).first()
        # Keys act as operators (IsOperator): they stop working when their user leaves staff.
        user = api_key.user if api_key else None
        if api_key is None or not api_key.is_active or not (user.is_active and user.is_staff):
            raise AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        # Touch at most once a minute: a hot server key must not write on every request.
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


# --- JWT without a database read for customers ----------------------------------------------


def token_pair_for(user) -> RefreshToken:
    """A refresh token (its access token inherits the claims) saying whether `user` is staff
    and carrying its token generation; recorded as outstanding, so it can be revoked."""
    return new_refresh_token(user)


class ClaimsJWTAuthentication(JWTAuthentication):
    """Bearer JWT for the hot endpoints: a token issued to a customer authenticates with no
    database read — the caller is a `User` built from the token's claims (its id; not staff,
    so it holds no operator right). Money movements re-check that the user is still active in
    the statement that locks the accounts (ledger.services.books.lock_books); reads trust the
    token for its lifetime (JWT_ACCESS_MINUTES). Staff tokens, and tokens without the claim,
    load the user row as usual: rights and flags always come from the database.

    Wherever the row is read, the token's `gen` claim must equal `User.token_generation`: a
    password reset bumps it, so every access token issued before the reset is refused at once
    (the refresh tokens are blacklisted too). The stateless path checks it where money moves
    (lock_books, same statement); a stateless *read* trusts the token until it expires.

    Only views whose code needs nothing of the user but its id and rights ask for it (a
    `stateless_user = True` attribute); on every other view the user row is read as usual.
    """

    stateless = False

    def authenticate(self, request):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.stateless = getattr(view, "stateless_user", False)  # one instance per request
        try:
            return super().authenticate(request)
        except AuthenticationFailed:
            raise
        except exceptions.AuthenticationFailed as exc:
            # simplejwt's own (InvalidToken carries {"detail": ..., "messages": [...]}): the
            # project's one class, with the same detail.
            detail = exc.detail.get("detail", "") if isinstance(exc.detail, dict) else exc.detail
            raise AuthenticationFailed(str(detail)) from None

    def get_user(self, validated_token):
        generation = validated_token.get(GENERATION_CLAIM, 0)
        if not self.stateless or validated_token.get(STAFF_CLAIM) is not False:
            user = super().get_user(validated_token)
            if generation != user.token_generation:
                raise AuthenticationFailed("Token was revoked (password reset); sign in again.")
            return user
        try:
            user_id = int(validated_token[jwt_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise AuthenticationFailed("Token contained no recognizable user.") from None
        if not isinstance(generation, int):
            raise AuthenticationFailed("Token contained no recognizable user.")
        user = User(
            pk=user_id,
            is_staff=False,
            is_superuser=False,
            is_active=True,
            token_generation=generation,
        )
        user._state.adding = False
        user.from_claims = True  # tells the money path to re-check `is_active`
        return user


# --- who may move money: checked in the statement that locks the accounts -------------------


def actor_annotations(actor) -> dict:
    """Columns for the account-locking statement (ledger lock_books) about an actor known
    only from its token's claims: still active, token not revoked, email verified when
    REQUIRE_VERIFIED_EMAIL is on. Free: no extra round trip."""
    if not getattr(actor, "from_claims", False):
        return {}
    mine = User.objects.filter(pk=actor.pk)
    annotations = {
        "actor_active": Exists(mine.filter(is_active=True, token_generation=actor.token_generation))
    }
    if settings.REQUIRE_VERIFIED_EMAIL:
        annotations["actor_verified"] = Exists(mine.filter(email_verified_at__isnull=False))
    return annotations


def ensure_actor_may_move(actor, locked: dict) -> None:
    """Raises AuthenticationFailed (inactive user, revoked token) or EmailNotVerified (a
    customer without a verified email while REQUIRE_VERIFIED_EMAIL is on). Staff and API keys
    are not asked for a verified email; the system (actor None) is never refused."""
    if actor is None or not actor.pk:
        return
    rows = list(locked.values())
    if getattr(actor, "from_claims", False):
        if not all(row.actor_active for row in rows):
            raise AuthenticationFailed("No active account found for the given token.")
        verified = all(getattr(row, "actor_verified", True) for row in rows)
    else:
        verified = actor.is_staff or actor.email_verified_at is not None
    if settings.REQUIRE_VERIFIED_EMAIL and not verified:
        raise EmailNotVerified(
            "Confirm your email address before moving money "
            "(POST /api/v1/auth/verify-email/request)."
        )
