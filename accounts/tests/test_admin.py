"""The operator admin for users, API keys, assets and accounts."""

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.models import Account, ApiKey, Asset, User

pytestmark = pytest.mark.django_db

STRONG = "correct horse battery staple"


@pytest.fixture
def admin_client(client, user_factory):
    client.force_login(user_factory(is_staff=True, is_superuser=True))
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("model", ["user", "apikey", "asset", "account"])
def test_changelists_and_add_pages_render(admin_client, model, customer, account_factory):
    account_factory(owner=customer)

    assert admin_client.get(f"/admin/accounts/{model}/").status_code == 200


def test_add_user_with_email_as_the_login(admin_client):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "Ops@Example.com",
            "usable_password": "true",
            "password1": STRONG,
            "password2": STRONG,
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="ops@example.com")
    assert user.check_password(STRONG)


def test_add_user_rejects_a_duplicate_email_in_any_case(admin_client, customer):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": customer.email.upper(),
            "usable_password": "true",
            "password1": STRONG,
            "password2": STRONG,
        },
    )

    assert response.status_code == 200
    assert "email" in response.context["adminform"].form.errors
    assert User.objects.filter(email__iexact=customer.email).count() == 1


def test_change_user_page_renders(admin_client, customer):
    assert admin_client.get(f"/admin/accounts/user/{customer.pk}/change/").status_code == 200


def test_add_api_key_shows_the_secret_once_and_stores_its_hash(admin_client):
    response = admin_client.post("/admin/accounts/apikey/add/", {"name": "indexer"}, follow=True)

    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="indexer")
    [shown] = [m for m in messages_of(response) if f"lf_{api_key.prefix}_" in m]
    raw_key = next(word for word in shown.split() if word.startswith("lf_"))
    assert raw_key not in str(ApiKey.objects.filter(pk=api_key.pk).values().get())
    detail = admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/")
    assert raw_key not in detail.content.decode()
    assert api_key.hashed_key not in detail.content.decode()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get("/api/v1/auth/me").status_code == 200


def test_revoke_action_disables_the_key(admin_client, staff):
    from accounts.services import create_api_key

    api_key, raw_key = create_api_key(actor=staff, name="old")

    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_selected", "_selected_action": [api_key.pk]},
    )

    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert client.get("/api/v1/auth/me").status_code == 401


def test_account_page_shows_balances_read_only(admin_client, funded, customer):
    account = funded(customer, "12.50")

    response = admin_client.get(f"/admin/accounts/account/{account.pk}/change/")

    assert response.status_code == 200
    assert "12.50" in response.content.decode()
    form_fields = response.context["adminform"].form.fields
    assert set(form_fields) == {"name", "metadata"}


def test_saving_an_account_writes_only_name_and_metadata(admin_client, funded, customer):
    account = funded(customer, "12.50")

    with CaptureQueriesContext(connection) as queries:
        response = admin_client.post(
            f"/admin/accounts/account/{account.pk}/change/",
            {"name": "Renamed", "metadata": '{"note": "vip"}', "balance": "999999"},
        )

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.name == "Renamed"
    assert account.metadata == {"note": "vip"}
    assert account.balance == 1250
    updates = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
    updates = [sql for sql in updates if "accounts_account" in sql]
    assert updates
    assert all("balance" not in sql and "pending" not in sql for sql in updates)


def test_accounts_cannot_be_added_or_deleted_in_admin(admin_client, customer, account_factory):
    account = account_factory(owner=customer)

    assert admin_client.get("/admin/accounts/account/add/").status_code == 403
    assert admin_client.get(f"/admin/accounts/account/{account.pk}/delete/").status_code == 403
    changelist = admin_client.get("/admin/accounts/account/")
    assert "delete_selected" not in changelist.content.decode()
    assert Account.objects.filter(pk=account.pk).exists()


def test_freeze_and_unfreeze_actions(admin_client, customer, account_factory):
    account = account_factory(owner=customer)

    admin_client.post(
        "/admin/accounts/account/",
        {"action": "freeze_selected", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.status == Account.Status.FROZEN

    admin_client.post(
        "/admin/accounts/account/",
        {"action": "unfreeze_selected", "_selected_action": [account.pk]},
    )
    account.refresh_from_db()
    assert account.status == Account.Status.ACTIVE


def test_a_closed_account_is_not_reopened_by_unfreeze(admin_client, customer, account_factory):
    account = account_factory(owner=customer, status=Account.Status.CLOSED)

    response = admin_client.post(
        "/admin/accounts/account/",
        {"action": "unfreeze_selected", "_selected_action": [account.pk]},
        follow=True,
    )

    account.refresh_from_db()
    assert account.status == Account.Status.CLOSED
    assert any("closed" in m for m in messages_of(response))


def test_asset_exponent_is_read_only_once_created(admin_client):
    usd = Asset.objects.get(code="USD")

    response = admin_client.get(f"/admin/accounts/asset/{usd.pk}/change/")

    assert set(response.context["adminform"].form.fields) == {"name"}
