"""Email verification, password reset, logout and refresh rotation (issue 16, part 1)."""

import logging
import re
import uuid
from datetime import timedelta

import pytest
from django.core import mail, signing
from django.test import override_settings
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import User
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLog
from conftest import client_for
from ledger.models import Transaction

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("eager")]  # the mail task

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/token/refresh"
LOGOUT = "/api/v1/auth/logout"
ME = "/api/v1/auth/me"
VERIFY_REQUEST = "/api/v1/auth/verify-email/request"
VERIFY_CONFIRM = "/api/v1/auth/verify-email/confirm"
RESET_REQUEST = "/api/v1/auth/password-reset/request"
RESET_CONFIRM = "/api/v1/auth/password-reset/confirm"
NEW_PASSWORD = "a brand new passphrase 42"


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def login(client, email, password=TEST_PASSWORD) -> dict:
    response = client.post(TOKEN, {"email": email, "password": password}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def mailed_token(message) -> str:
    match = re.search(r"token=([A-Za-z0-9_:\-]+)", message.body)
    assert match is not None, message.body
    return match.group(1)


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


# --- email verification ----------------------------------------------------------------------


def request_verification(django_capture_on_commit_callbacks, user) -> str:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(user).post(VERIFY_REQUEST)
    assert response.status_code == 202, response.content
    assert len(mail.outbox) == 1
    return mailed_token(mail.outbox[0])


def test_verification_link_confirms_the_email_once(
    customer, api_client, django_capture_on_commit_callbacks
):
    token = request_verification(django_capture_on_commit_callbacks, customer)
    assert mail.outbox[0].to == [customer.email]
    assert client_for(customer).get(ME).json()["email_verified"] is False

    response = api_client.post(VERIFY_CONFIRM, {"token": token}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["email_verified"] is True
    customer.refresh_from_db()
    assert customer.email_verified_at is not None
    assert AuditLog.objects.filter(action="user.verify_email", target_id=str(customer.pk)).exists()
    # Single use: the state the token was signed over has changed.
    problem(api_client.post(VERIFY_CONFIRM, {"token": token}, format="json"), 400, "invalid_token")


def test_no_mail_once_verified(customer, django_capture_on_commit_callbacks):
    User.objects.filter(pk=customer.pk).update(email_verified_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(customer).post(VERIFY_REQUEST)
    assert response.status_code == 202
    assert mail.outbox == []


def test_verification_request_needs_a_user(api_client):
    problem(api_client.post(VERIFY_REQUEST), 401, "not_authenticated")


def test_an_expired_verification_token_is_refused(customer, api_client):
    token = tokens.make_token(tokens.EMAIL_VERIFICATION, customer)
    with override_settings(EMAIL_VERIFICATION_TIMEOUT=-1):
        problem(
            api_client.post(VERIFY_CONFIRM, {"token": token}, format="json"), 400, "token_expired"
        )
    customer.refresh_from_db()
    assert customer.email_verified_at is None


def _rewrite_payload(token: str, payload: dict) -> str:
    _, timestamp, signature = token.rsplit(":", 2)
    body = signing.b64_encode(signing.JSONSerializer().dumps(payload)).decode()
    return f"{body}:{timestamp}:{signature}"


@pytest.mark.parametrize(
    "forge",
    [
        lambda t, u, o: t[:-2] + ("AA" if not t.endswith("AA") else "BB"),  # signature tampered
        lambda t, u, o: "garbage",
        # Signed with another key: what an attacker without SECRET_KEY can make.
        lambda t, u, o: signing.dumps(
            {"u": u.pk, "s": "0" * 32}, key="x" * 50, salt=tokens.EMAIL_VERIFICATION.salt
        ),
        # Another purpose's token for the same user.
        lambda t, u, o: tokens.make_token(tokens.PASSWORD_RESET, u),
        # Wrong user: this user's token rewritten to name another (the signature breaks).
        lambda t, u, o: _rewrite_payload(t, {"u": o.pk, "s": "0" * 32}),
        # Wrong user: a genuine token of another user carries that user's state only.
        lambda t, u, o: signing.dumps(
            {"u": u.pk, "s": signing.loads(tokens.make_token(tokens.EMAIL_VERIFICATION, o),
                                           salt=tokens.EMAIL_VERIFICATION.salt)["s"]},
            salt=tokens.EMAIL_VERIFICATION.salt,
        ),
    ],
    ids=["tampered", "garbage", "other-key", "other-purpose", "other-user", "other-users-state"],
)  # fmt: skip
def test_forged_verification_tokens_are_refused(forge, customer, other_customer, api_client):
    token = tokens.make_token(tokens.EMAIL_VERIFICATION, customer)
    response = api_client.post(
        VERIFY_CONFIRM, {"token": forge(token, customer, other_customer)}, format="json"
    )
    problem(response, 400, "invalid_token")
    assert not User.objects.filter(email_verified_at__isnull=False).exists()


def test_a_verification_token_dies_when_the_email_changes(customer, api_client):
    token = tokens.make_token(tokens.EMAIL_VERIFICATION, customer)
    User.objects.filter(pk=customer.pk).update(email="new@example.com")
    problem(api_client.post(VERIFY_CONFIRM, {"token": token}, format="json"), 400, "invalid_token")


# --- password reset --------------------------------------------------------------------------


def request_reset(api_client, django_capture_on_commit_callbacks, email):
    with django_capture_on_commit_callbacks(execute=True):
        response = api_client.post(RESET_REQUEST, {"email": email}, format="json")
    assert response.status_code == 202, response.content
    return response


def test_reset_request_answers_the_same_for_known_and_unknown_emails(
    customer, api_client, django_capture_on_commit_callbacks
):
    known = request_reset(api_client, django_capture_on_commit_callbacks, customer.email.upper())
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [customer.email]
    unknown = request_reset(api_client, django_capture_on_commit_callbacks, "nobody@example.com")
    assert len(mail.outbox) == 1  # nothing sent
    assert known.json() == unknown.json()
    assert mailed_token(mail.outbox[0]) not in known.content.decode()


def test_no_reset_mail_for_an_inactive_user(api_client, django_capture_on_commit_callbacks):
    user = UserFactory(is_active=False)
    request_reset(api_client, django_capture_on_commit_callbacks, user.email)
    assert mail.outbox == []


def test_reset_sets_the_password_and_ends_every_session(
    customer, api_client, django_capture_on_commit_callbacks, funded, other_customer
):
    source, target = funded(customer), funded(other_customer, "0")
    sessions = [login(APIClient(), customer.email) for _ in range(2)]
    request_reset(api_client, django_capture_on_commit_callbacks, customer.email)
    token = mailed_token(mail.outbox[0])

    response = api_client.post(
        RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json"
    )

    assert response.status_code == 200, response.content
    customer.refresh_from_db()
    assert customer.check_password(NEW_PASSWORD)
    for pair in sessions:
        # Refresh tokens are revoked...
        problem(api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401,
                "authentication_failed")  # fmt: skip
        # ...and access tokens issued before are refused where the user row is read...
        problem(bearer(pair["access"]).get(ME), 401, "authentication_failed")
        # ...and where money moves (the stateless path checks it in the lock statement).
        before = Transaction.objects.count()
        moved = bearer(pair["access"]).post(
            "/api/v1/transfers",
            {"from_account": source.public_id, "to_account": target.public_id, "amount": "1"},
            format="json",
        )
        problem(moved, 401, "authentication_failed")
        assert Transaction.objects.count() == before
    assert login(APIClient(), customer.email, NEW_PASSWORD)["access"]
    assert AuditLog.objects.filter(action="user.password_reset").count() == 1
    # Single use.
    again = api_client.post(RESET_CONFIRM, {"token": token, "password": "another one 77"},
                            format="json")  # fmt: skip
    problem(again, 400, "invalid_token")


def test_a_weak_new_password_changes_nothing(customer, api_client):
    refresh = login(APIClient(), customer.email)["refresh"]
    customer.refresh_from_db()
    token = tokens.make_token(tokens.PASSWORD_RESET, customer)
    body = problem(
        api_client.post(RESET_CONFIRM, {"token": token, "password": "123"}, format="json"),
        422,
        "validation_error",
    )
    assert "password" in body["errors"]
    customer.refresh_from_db()
    assert customer.check_password(TEST_PASSWORD)
    assert customer.token_generation == 0
    assert api_client.post(REFRESH, {"refresh": refresh}, format="json").status_code == 200


def test_an_expired_reset_token_is_refused(customer, api_client):
    token = tokens.make_token(tokens.PASSWORD_RESET, customer)
    with override_settings(PASSWORD_RESET_TIMEOUT=-1):
        response = api_client.post(
            RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json"
        )
    problem(response, 400, "token_expired")
    customer.refresh_from_db()
    assert customer.check_password(TEST_PASSWORD)


def test_a_reset_token_dies_when_the_user_logs_in(customer, api_client):
    token = tokens.make_token(tokens.PASSWORD_RESET, customer)
    login(APIClient(), customer.email)  # sets last_login, part of the signed state
    response = api_client.post(
        RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json"
    )
    problem(response, 400, "invalid_token")


def test_a_verification_token_is_not_a_reset_token(customer, api_client):
    token = tokens.make_token(tokens.EMAIL_VERIFICATION, customer)
    response = api_client.post(
        RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json"
    )
    problem(response, 400, "invalid_token")
    customer.refresh_from_db()
    assert customer.check_password(TEST_PASSWORD)


def test_another_users_reset_state_does_not_open_this_account(customer, other_customer, api_client):
    theirs = signing.loads(
        tokens.make_token(tokens.PASSWORD_RESET, other_customer), salt=tokens.PASSWORD_RESET.salt
    )
    # Even signed with our key (which no attacker has), another user's state does not match.
    token = signing.dumps({"u": customer.pk, "s": theirs["s"]}, salt=tokens.PASSWORD_RESET.salt)
    response = api_client.post(
        RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json"
    )
    problem(response, 400, "invalid_token")


def test_tokens_never_reach_the_logs(customer, api_client, django_capture_on_commit_callbacks,
                                     caplog):  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        request_reset(api_client, django_capture_on_commit_callbacks, customer.email)
        token = mailed_token(mail.outbox[0])
        api_client.post(RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json")
        api_client.post(RESET_CONFIRM, {"token": token, "password": NEW_PASSWORD}, format="json")
    assert token not in caplog.text


@pytest.mark.parametrize("path", [RESET_REQUEST, VERIFY_REQUEST])
def test_request_endpoints_are_throttled_like_login(path, monkeypatch, customer):
    from ledgerflow.throttling import ScopedRateThrottle

    monkeypatch.setattr(
        ScopedRateThrottle, "THROTTLE_RATES", {**ScopedRateThrottle.THROTTLE_RATES, "auth": "2/min"}
    )
    client = client_for(customer)
    for _ in range(2):
        assert client.post(path, {"email": "a@example.com"}, format="json").status_code == 202
    response = client.post(path, {"email": "a@example.com"}, format="json")
    problem(response, 429, "rate_limited")
    assert int(response["Retry-After"]) > 0


# --- refresh rotation and logout -------------------------------------------------------------


def test_a_rotated_refresh_token_is_refused(customer, api_client):
    first = login(api_client, customer.email)["refresh"]
    second = api_client.post(REFRESH, {"refresh": first}, format="json").json()["refresh"]

    body = problem(api_client.post(REFRESH, {"refresh": first}, format="json"), 401,
                   "authentication_failed")  # fmt: skip
    assert "blacklisted" in body["detail"]
    third = api_client.post(REFRESH, {"refresh": second}, format="json")
    assert third.status_code == 200
    assert bearer(third.json()["access"]).get(ME).json()["email"] == customer.email


def test_logout_revokes_the_refresh_token(customer, api_client):
    pair = login(api_client, customer.email)
    other = login(APIClient(), customer.email)  # another session stays

    response = bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json")

    assert response.status_code == 204, response.content
    problem(api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json"), 401,
            "authentication_failed")  # fmt: skip
    problem(bearer(pair["access"]).post(LOGOUT, {"refresh": pair["refresh"]}, format="json"),
            401, "authentication_failed")  # fmt: skip
    assert api_client.post(REFRESH, {"refresh": other["refresh"]}, format="json").status_code == 200


def test_logout_of_someone_elses_token_is_refused(customer, other_customer, api_client):
    theirs = login(APIClient(), other_customer.email)["refresh"]
    response = client_for(customer).post(LOGOUT, {"refresh": theirs}, format="json")
    problem(response, 400, "invalid_token")
    assert api_client.post(REFRESH, {"refresh": theirs}, format="json").status_code == 200


def test_logout_needs_a_user(api_client, customer):
    refresh = login(APIClient(), customer.email)["refresh"]
    problem(api_client.post(LOGOUT, {"refresh": refresh}, format="json"), 401, "not_authenticated")


def test_refresh_reissues_claims_from_the_database(customer, api_client):
    refresh = login(api_client, customer.email)["refresh"]
    User.objects.filter(pk=customer.pk).update(is_staff=True)
    access = api_client.post(REFRESH, {"refresh": refresh}, format="json").json()["access"]
    from rest_framework_simplejwt.tokens import AccessToken

    assert AccessToken(access)[tokens.STAFF_CLAIM] is True


def test_no_usable_token_is_stored(customer, api_client):
    from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

    login(api_client, customer.email)
    assert list(OutstandingToken.objects.filter(user=customer).values_list("token", flat=True)) == [
        ""
    ]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_rotations_of_one_token_give_one_new_pair(customer):
    import threading

    from django.db import connection

    refresh = login(APIClient(), customer.email)["refresh"]
    barrier, results = threading.Barrier(4), []

    def rotate():
        try:
            barrier.wait()
            results.append(APIClient().post(REFRESH, {"refresh": refresh}, format="json")
                           .status_code)  # fmt: skip
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 401, 401, 401]


# --- REQUIRE_VERIFIED_EMAIL -----------------------------------------------------------------


def _transfer(client, source, target):
    return client.post(
        "/api/v1/transfers",
        {"from_account": source.public_id, "to_account": target.public_id, "amount": "1.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4()),
    )


@pytest.mark.parametrize("stateless", [True, False], ids=["transfer", "withdrawal"])
def test_an_unverified_customer_cannot_move_money_when_required(
    stateless, customer, other_customer, funded
):
    source, target = funded(customer), funded(other_customer, "0")
    client = client_for(customer)

    def move():
        if stateless:  # claims-only path: checked in the lock statement
            return _transfer(client, source, target)
        return client.post(  # the user row is read: checked from it
            "/api/v1/withdrawals", {"account": source.public_id, "amount": "1"}, format="json"
        )

    before = Transaction.objects.count()
    with override_settings(REQUIRE_VERIFIED_EMAIL=True):
        body = problem(move(), 403, "email_not_verified")
        assert "verify-email" in body["detail"]
        assert Transaction.objects.count() == before
        User.objects.filter(pk=customer.pk).update(email_verified_at=timezone.now())
        assert move().status_code == 201
    User.objects.filter(pk=customer.pk).update(email_verified_at=None)
    assert move().status_code == 201  # off by default


def test_staff_need_no_verified_email(customer, staff):
    from accounts.tests.factories import AccountFactory

    account = AccountFactory(owner=customer)
    with override_settings(REQUIRE_VERIFIED_EMAIL=True):
        response = client_for(staff).post(
            "/api/v1/deposits", {"account": account.public_id, "amount": "5"}, format="json"
        )
    assert response.status_code == 201, response.content


def test_old_tokens_without_a_generation_claim_still_work_until_a_reset(customer):
    access = tokens.new_refresh_token(customer).access_token  # as issued before `gen` existed
    del access[tokens.GENERATION_CLAIM]
    assert bearer(str(access)).get(ME).status_code == 200
    User.objects.filter(pk=customer.pk).update(token_generation=1)
    assert bearer(str(access)).get(ME).status_code == 401


def test_reset_token_lifetime_default_is_short():
    from django.conf import settings

    assert settings.PASSWORD_RESET_TIMEOUT <= timedelta(hours=1).total_seconds()
