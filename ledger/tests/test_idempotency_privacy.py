"""What an idempotency record keeps, and for whom.

The fingerprint is an HMAC keyed from SECRET_KEY (a registration body holds a password: an
unsalted hash of it would be a password hash anyone with a database dump could attack), the
admin's inspector shows no stored request or response body, and anonymous callers (register)
have one key namespace per client address, not one shared by everybody.
"""

import hashlib
import json

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import User
from ledger.models import IdempotencyKey

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
PASSWORD = "correct horse battery staple"


def register(client: APIClient, email: str, key: str, **extra):
    return client.post(
        REGISTER,
        {"email": email, "password": PASSWORD},
        format="json",
        HTTP_IDEMPOTENCY_KEY=key,
        **extra,
    )


def unsalted(method: str, path: str, body: dict) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method}\n{path}\n{canonical}".encode()).hexdigest()


def test_the_fingerprint_is_keyed_with_a_server_secret():
    client = APIClient(REMOTE_ADDR="192.0.2.10")
    assert register(client, "ada@example.com", "reg-1").status_code == 201
    record = IdempotencyKey.objects.get()

    body = {"email": "ada@example.com", "password": PASSWORD}
    assert record.fingerprint != unsalted("POST", REGISTER, body)
    assert PASSWORD not in json.dumps(list(IdempotencyKey.objects.values()), default=str)
    with override_settings(SECRET_KEY="another-server-secret-" + "x" * 40):
        # The same request under another server key: not the same fingerprint, so the hash
        # cannot be recomputed (or a password tested against it) without the server's key.
        response = register(client, "ada@example.com", "reg-1")
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert register(client, "ada@example.com", "reg-1").headers["Idempotent-Replayed"] == "true"
    assert User.objects.count() == 1


def test_anonymous_keys_are_scoped_per_client_address():
    first = register(APIClient(REMOTE_ADDR="192.0.2.10"), "ada@example.com", "signup")
    second = register(APIClient(REMOTE_ADDR="198.51.100.3"), "bob@example.com", "signup")

    assert first.status_code == 201, first.json()
    assert second.status_code == 201, second.json()
    assert "Idempotent-Replayed" not in second.headers
    assert User.objects.filter(email__in=["ada@example.com", "bob@example.com"]).count() == 2
    assert IdempotencyKey.objects.filter(key="signup").count() == 2


def test_a_stranger_cannot_replay_someone_elses_anonymous_response():
    register(APIClient(REMOTE_ADDR="192.0.2.10"), "ada@example.com", "signup")

    # Same key and body from elsewhere: not a replay of Ada's stored answer, a fresh request.
    response = register(APIClient(REMOTE_ADDR="198.51.100.3"), "ada@example.com", "signup")

    assert response.status_code == 422
    assert response.json()["code"] == "validation_error"  # already registered
    assert "Idempotent-Replayed" not in response.headers


def test_behind_proxies_anonymous_keys_use_the_forwarded_address(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")

    first = register(proxy, "ada@example.com", "signup", HTTP_X_FORWARDED_FOR="192.0.2.10")
    second = register(proxy, "bob@example.com", "signup", HTTP_X_FORWARDED_FOR="198.51.100.3")

    assert (first.status_code, second.status_code) == (201, 201)
    principals = set(IdempotencyKey.objects.values_list("principal", flat=True))
    assert len(principals) == 2
    assert not any("10.0.0.1" in principal for principal in principals)


def test_the_admin_inspector_shows_no_stored_bodies(client, user_factory):
    register(APIClient(REMOTE_ADDR="192.0.2.10"), "ada@example.com", "reg-1")
    record = IdempotencyKey.objects.get()
    client.force_login(user_factory(is_staff=True, is_superuser=True))

    page = client.get(f"/admin/ledger/idempotencykey/{record.pk}/change/")
    listing = client.get("/admin/ledger/idempotencykey/")

    assert page.status_code == listing.status_code == 200
    for response in (page, listing):
        html = response.content.decode()
        assert "ada@example.com" not in html
        assert record.fingerprint not in html
    html = page.content.decode()
    assert record.path in html
    assert record.principal in html
