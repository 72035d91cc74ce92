"""Login lockout per (user, client address), with a larger per-user limit (DESIGN §4).

Someone who only knows a customer's email must not be able to keep that customer out: a
lockout binds the address that guessed, while the customer's own address still logs in. A
per-user limit (LOGIN_LOCKOUT_USER_THRESHOLD) still stops guessing spread over many addresses.
"""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.models import LoginFailure, User
from accounts.tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/v1/auth/token"
ATTACKER = "203.0.113.7"
OWNER = "198.51.100.20"


def client_at(address: str) -> APIClient:
    return APIClient(REMOTE_ADDR=address)


def login(client, email: str, password: str = TEST_PASSWORD):
    return client.post(TOKEN, {"email": email, "password": password}, format="json")


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=10)
def test_a_guessing_address_is_locked_but_the_owner_still_logs_in(customer):
    attacker, owner = client_at(ATTACKER), client_at(OWNER)
    for _ in range(3):
        assert_problem(login(attacker, customer.email, "wrong"), 401, "authentication_failed")

    locked = login(attacker, customer.email)  # even the right password, from that address

    body = assert_problem(locked, 403, "account_locked")
    assert int(locked["Retry-After"]) > 0
    assert "wrong" not in str(body)
    assert login(owner, customer.email).status_code == 200
    assert_problem(login(attacker, customer.email), 403, "account_locked")  # still locked there
    assert User.objects.get(pk=customer.pk).locked_until is None


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=10)
def test_the_owner_logging_in_does_not_wipe_another_addresses_failures(customer):
    attacker, owner = client_at(ATTACKER), client_at(OWNER)
    for _ in range(2):
        login(attacker, customer.email, "wrong")

    assert login(owner, customer.email).status_code == 200

    assert LoginFailure.objects.filter(user=customer, address=ATTACKER).count() == 2
    login(attacker, customer.email, "wrong")  # the third: locks the attacker's address
    assert_problem(login(attacker, customer.email), 403, "account_locked")


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=10)
def test_a_success_clears_only_its_own_addresses_failures(customer):
    owner, attacker = client_at(OWNER), client_at(ATTACKER)
    login(owner, customer.email, "typo")
    login(owner, customer.email, "typo")
    login(attacker, customer.email, "wrong")

    assert login(owner, customer.email).status_code == 200

    assert not LoginFailure.objects.filter(user=customer, address=OWNER).exists()
    assert LoginFailure.objects.filter(user=customer, address=ATTACKER).count() == 1
    assert User.objects.get(pk=customer.pk).failed_login_count == 1


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=5)
def test_guessing_spread_over_many_addresses_locks_the_user_everywhere(customer):
    for n in range(5):  # two guesses each from addresses that never reach their own limit
        assert_problem(
            login(client_at(f"192.0.2.{n // 2 + 1}"), customer.email, "wrong"),
            401,
            "authentication_failed",
        )

    response = login(client_at(OWNER), customer.email)

    assert_problem(response, 403, "account_locked")
    user = User.objects.get(pk=customer.pk)
    assert user.locked_until is not None
    assert user.failed_login_count == 5


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3, LOGIN_LOCKOUT_USER_THRESHOLD=10)
def test_failures_while_locked_are_not_counted(customer):
    attacker = client_at(ATTACKER)
    for _ in range(3):
        login(attacker, customer.email, "wrong")

    for _ in range(5):
        assert_problem(login(attacker, customer.email, "wrong"), 403, "account_locked")

    assert LoginFailure.objects.filter(user=customer).count() == 3
    assert User.objects.get(pk=customer.pk).locked_until is None


@override_settings(LOGIN_LOCKOUT_THRESHOLD=3)
def test_an_unknown_email_records_nothing(api_client):
    for _ in range(4):
        assert_problem(login(api_client, "nobody@example.com", "x"), 401, "authentication_failed")

    assert not LoginFailure.objects.exists()


@override_settings(LOGIN_LOCKOUT_THRESHOLD=2)
def test_behind_a_proxy_the_forwarded_address_is_the_one_locked(customer, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    proxy = APIClient(REMOTE_ADDR="10.0.0.1")
    for _ in range(2):
        proxy.post(
            TOKEN,
            {"email": customer.email, "password": "wrong"},
            format="json",
            HTTP_X_FORWARDED_FOR=ATTACKER,
        )

    owner = proxy.post(
        TOKEN,
        {"email": customer.email, "password": TEST_PASSWORD},
        format="json",
        HTTP_X_FORWARDED_FOR=OWNER,
    )

    assert owner.status_code == 200, owner.content
    assert set(LoginFailure.objects.values_list("address", flat=True)) == {ATTACKER}
