"""`Authorization: Api-Key <key>` for servers. Keys are stored as SHA-256; shown once."""

import hashlib

from django.utils import timezone
from rest_framework import authentication, exceptions

from accounts.models import ApiKey

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
