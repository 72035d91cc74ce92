"""Registration, JWT login/refresh, `auth/me` and the login lockout (DESIGN §4)."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.test import override_settings
from django.utils import timezone
from rest_framework_simplejwt.tokens import RefreshToken

from accounts.models import LoginFailure, User
from accounts.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

REGISTER = "/api/v1/auth/register"
TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
ME = "/api/v1/auth/me"
STRONG = "correct horse battery staple"


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert body["status"] == status
    return body


def login(client, email: str, password: str = TEST_PASSWORD):
    return client.post(TOKEN, {"email": email, "password": password}, format="json")


# --- register ------------------------------------------------------------------------------


def test_register_creates_a_customer(api_client):
    response = api_client.post(
        REGISTER,
        {"email": "Ada@Example.com", "password": STRONG, "telegram_id": "4242"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "email", "telegram_id", "is_staff", "email_verified", "date_joined"}
    assert body["email_verified"] is False
    assert User.objects.get(email="ada@example.com").groups.filter(name="customer").exists()
    assert body["email"] == "ada@example.com"
    assert body["telegram_id"] == "4242"
    assert body["is_staff"] is False
    user = User.objects.get(email="ada@example.com")
    assert user.check_password(STRONG)
    assert "password" not in body


def test_registered_user_can_log_in(api_client):
    api_client.post(REGISTER, {"email": "bob@example.com", "password": STRONG}, format="json")

    response = login(api_client, "bob@example.com", STRONG)

    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"access", "refresh"}


def test_register_with_a_taken_email_is_a_field_error(api_client, customer):
    response = api_client.post(
        REGISTER, {"email": customer.email.upper(), "password": STRONG}, format="json"
    )

    body = assert_problem(response, 422, "validation_error")
    assert "email" in body["errors"]
    assert User.objects.filter(email=customer.email).count() == 1


def test_register_with_a_taken_telegram_id_is_a_field_error(api_client):
    UserFactory(telegram_id="777")

    response = api_client.post(
        REGISTER,
        {"email": "new@example.com", "password": STRONG, "telegram_id": "777"},
        format="json",
    )

    body = assert_problem(response, 422, "validation_error")
    assert "telegram_id" in body["errors"]
    assert not User.objects.filter(email="new@example.com").exists()


@override_settings(BLOCKED_EMAIL_DOMAINS=["Spam.example"])
def test_register_from_a_blocked_domain_is_a_field_error(api_client):
    response = api_client.post(
        REGISTER, {"email": "x@spam.example", "password": STRONG}, format="json"
    )

    body = assert_problem(response, 422, "validation_error")
    assert "email" in body["errors"]
    assert not User.objects.exists()


@pytest.mark.parametrize("password", ["12345678", "password", "short"])
def test_register_with_a_weak_password_is_a_field_error(api_client, password):
    response = api_client.post(
        REGISTER, {"email": "weak@example.com", "password": password}, format="json"
    )

    body = assert_problem(response, 422, "validation_error")
    assert body["errors"]["password"]
    assert not User.objects.filter(email="weak@example.com").exists()


def test_register_without_fields_is_400(api_client):
    response = api_client.post(REGISTER, {}, format="json")

    body = assert_problem(response, 400, "validation_error")
    assert set(body["errors"]) == {"email", "password"}


# --- token ---------------------------------------------------------------------------------


def test_token_pair_authenticates_me(api_client, customer):
    tokens = login(api_client, customer.email).json()

    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    response = api_client.get(ME)

    assert response.status_code == 200
    assert response.json()["email"] == customer.email
    assert response.json()["id"] == customer.pk


def test_login_records_last_login(api_client, customer):
    login(api_client, customer.email)

    customer.refresh_from_db()
    assert customer.last_login is not None


def test_me_without_credentials_is_401_not_authenticated(api_client):
    response = api_client.get(ME)

    assert_problem(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_me_with_a_garbage_bearer_token_is_401_authentication_failed(api_client):
    api_client.credentials(HTTP_AUTHORIZATION="Bearer not-a-jwt")

    body = assert_problem(api_client.get(ME), 401, "authentication_failed")
    assert isinstance(body["detail"], str)
    assert "ErrorDetail" not in body["detail"]


def test_wrong_password_is_401_authentication_failed(api_client, customer):
    response = login(api_client, customer.email, "wrong-password")

    assert_problem(response, 401, "authentication_failed")
    assert "WWW-Authenticate" in response
    customer.refresh_from_db()
    assert customer.failed_login_count == 1


def test_unknown_email_is_401_like_a_wrong_password(api_client):
    assert_problem(login(api_client, "nobody@example.com"), 401, "authentication_failed")


def test_inactive_user_cannot_log_in(api_client):
    user = UserFactory(is_active=False)

    assert_problem(login(api_client, user.email), 401, "authentication_failed")


def test_token_request_missing_a_field_is_400_validation_error(api_client, customer):
    response = api_client.post(TOKEN, {"email": customer.email}, format="json")

    body = assert_problem(response, 400, "validation_error")
    assert "password" in body["errors"]
    customer.refresh_from_db()
    assert customer.failed_login_count == 0


def test_refresh_gives_a_new_access_token(api_client, customer):
    tokens = login(api_client, customer.email).json()

    response = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert response.status_code == 200, response.json()
    assert set(response.json()) == {"access", "refresh"}  # rotated (test_sessions.py)
    assert response.json()["refresh"] != tokens["refresh"]
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    assert api_client.get(ME).json()["email"] == customer.email


@pytest.mark.parametrize("refresh", ["garbage", ""])
def test_refresh_with_a_bad_token_is_rejected(api_client, refresh):
    response = api_client.post(REFRESH, {"refresh": refresh}, format="json")

    if refresh:
        assert_problem(response, 401, "authentication_failed")
    else:
        assert_problem(response, 400, "validation_error")


def test_refresh_with_an_access_token_is_401(api_client, customer):
    tokens = login(api_client, customer.email).json()

    response = api_client.post(REFRESH, {"refresh": tokens["access"]}, format="json")

    assert_problem(response, 401, "authentication_failed")


def test_refresh_for_a_deactivated_user_is_401(api_client, customer):
    tokens = login(api_client, customer.email).json()
    User.objects.filter(pk=customer.pk).update(is_active=False)

    response = api_client.post(REFRESH, {"refresh": tokens["refresh"]}, format="json")

    assert_problem(response, 401, "authentication_failed")


def test_refresh_for_a_user_that_no_longer_exists_is_401(api_client, customer):
    token = RefreshToken.for_user(customer)
    token["user_id"] = customer.pk + 10_000  # signed by us, but nobody has this id

    response = api_client.post(REFRESH, {"refresh": str(token)}, format="json")

    assert_problem(response, 401, "authentication_failed")


# --- lockout -------------------------------------------------------------------------------


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_SECONDS=600)
def test_repeated_failures_lock_the_user_even_for_the_right_password(api_client, customer):
    for _ in range(3):
        assert_problem(login(api_client, customer.email, "wrong"), 401, "authentication_failed")

    response = login(api_client, customer.email)

    assert_problem(response, 403, "account_locked")
    assert 590 <= int(response["Retry-After"]) <= 601
    assert LoginFailure.objects.filter(user=customer).count() == 3  # the lock binds this address


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3)
def test_login_works_again_once_the_lock_expires(api_client, customer):
    for _ in range(3):
        login(api_client, customer.email, "wrong")
    LoginFailure.objects.filter(user=customer).update(
        created_at=timezone.now() - timedelta(seconds=settings.LOGIN_LOCKOUT_SECONDS + 1)
    )

    response = login(api_client, customer.email)

    assert response.status_code == 200, response.json()
    customer.refresh_from_db()
    assert customer.failed_login_count == 0
    assert customer.locked_until is None


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3)
def test_a_success_resets_the_failure_counter(api_client, customer):
    for _ in range(2):
        login(api_client, customer.email, "wrong")

    assert login(api_client, customer.email).status_code == 200
    for _ in range(2):
        login(api_client, customer.email, "wrong")

    customer.refresh_from_db()
    assert customer.failed_login_count == 2
    assert customer.locked_until is None
    assert login(api_client, customer.email).status_code == 200


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3)
def test_a_locked_user_stays_locked_with_wrong_passwords_without_extending_the_lock(
    api_client, customer
):
    for _ in range(3):
        login(api_client, customer.email, "wrong")
    customer.refresh_from_db()
    locked_until = customer.locked_until

    assert_problem(login(api_client, customer.email, "wrong"), 403, "account_locked")

    customer.refresh_from_db()
    assert customer.locked_until == locked_until


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3)
def test_lockout_is_per_user(api_client, customer, other_customer):
    for _ in range(3):
        login(api_client, customer.email, "wrong")

    assert login(api_client, other_customer.email).status_code == 200
