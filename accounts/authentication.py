"""`Authorization: Api-Key <key>` for servers (stored as SHA-256; shown once), and Bearer
JWTs that cost customers no database read on the hot endpoints."""

import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import ApiKey, User

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
            raise exceptions.AuthenticationFailed("Empty API key.")
        api_key = ApiKey.objects.select_related("user").filter(hashed_key=hash_key(raw_key)).first()
        # Keys act as operators (IsOperator): they stop working when their user leaves staff.
        user = api_key.user if api_key else None
        if api_key is None or not api_key.is_active or not (user.is_active and user.is_staff):
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        now = timezone.now()
        # Touch at most once a minute: a hot server key must not write on every request.
        if api_key.last_used_at is None or (now - api_key.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        return api_key.user, api_key

    def authenticate_header(self, request) -> str:
        return KEYWORD


# --- JWT without a database read for customers ----------------------------------------------

STAFF_CLAIM = "stf"  # the user was staff when the token was issued


def token_pair_for(user) -> RefreshToken:
    """A refresh token (its access token inherits the claims) saying whether `user` is staff."""
    refresh = RefreshToken.for_user(user)
    refresh[STAFF_CLAIM] = bool(user.is_staff)
    return refresh


class ClaimsJWTAuthentication(JWTAuthentication):
    """Bearer JWT for the hot endpoints: a token issued to a customer authenticates with no
    database read — the caller is a `User` built from the token's claims (its id; not staff,
    so it holds no operator right). Money movements re-check that the user is still active in
    the statement that locks the accounts (ledger.services.books.lock_books); reads trust the
    token for its lifetime (JWT_ACCESS_MINUTES). Staff tokens, and tokens without the claim,
    load the user row as usual: rights and flags always come from the database.

    Only views whose code needs nothing of the user but its id and rights ask for it (a
    `stateless_user = True` attribute); on every other view the user row is read as usual.
    """

    stateless = False

    def authenticate(self, request):
        view = (getattr(request, "parser_context", None) or {}).get("view")
        self.stateless = getattr(view, "stateless_user", False)  # one instance per request
        return super().authenticate(request)

    def get_user(self, validated_token):
        if not self.stateless or validated_token.get(STAFF_CLAIM) is not False:
            return super().get_user(validated_token)
        try:
            user_id = int(validated_token[jwt_settings.USER_ID_CLAIM])
        except (KeyError, TypeError, ValueError):
            raise exceptions.AuthenticationFailed("Token contained no recognizable user.") from None
        user = User(pk=user_id, is_staff=False, is_superuser=False, is_active=True)
        user._state.adding = False
        user.from_claims = True  # tells the money path to re-check `is_active`
        return user
