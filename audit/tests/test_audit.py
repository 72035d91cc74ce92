"""The audit log: what a row records, that it commits with the action, and that it is read-only."""

import pytest
from django.contrib.auth.models import Permission
from django.test import RequestFactory

from accounts.models import Account
from audit.models import AuditLog
from audit.services import audited, client_ip, record_audit, state_of
from ledgerflow.errors import InvalidState

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser(user_factory):
    return user_factory(is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(client, superuser):
    client.force_login(superuser)
    return client


def http_request(user, **meta):
    request = RequestFactory().post("/admin/", **meta)
    request.user = user
    request.request_id = "req-123"
    return request


def test_record_audit_keeps_who_what_where_and_both_states(superuser, customer, account_factory):
    account = account_factory(owner=customer)
    request = http_request(superuser, REMOTE_ADDR="203.0.113.7")

    row = record_audit(
        superuser, "account.freeze", account, {"status": "active"}, {"status": "frozen"}, request
    )

    row.refresh_from_db()
    assert (row.actor, row.action) == (superuser, "account.freeze")
    assert (row.target_type, row.target_id) == ("accounts.Account", str(account.pk))
    assert row.target_repr == str(account)
    assert (row.before, row.after) == ({"status": "active"}, {"status": "frozen"})
    assert (row.ip_address, row.request_id) == ("203.0.113.7", "req-123")


def test_state_of_leaves_secrets_out(superuser):
    state = state_of(superuser)

    assert "password" not in state
    assert state["email"] == superuser.email
    assert state["groups"] == []


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.1"),  # untrusted header ignored
        (1, "198.51.100.1, 192.0.2.9", "192.0.2.9"),  # what our one proxy saw
        (2, "198.51.100.1, 192.0.2.9", "198.51.100.1"),
        (1, "not-an-ip", None),
    ],
)
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR=forwarded)

    assert client_ip(request) == expected


def test_audited_writes_nothing_when_the_service_refuses(superuser, customer, account_factory):
    account = account_factory(owner=customer)

    def refuse():
        Account.objects.filter(pk=account.pk).update(name="changed")
        raise InvalidState("no")

    with pytest.raises(InvalidState):
        audited(request=http_request(superuser), action="x.y", target=account, run=refuse)

    assert not AuditLog.objects.exists()
    account.refresh_from_db()
    assert account.name != "changed"


def test_admin_edit_is_audited_with_before_and_after(admin_client, superuser, customer):
    from accounts.tests.factories import AccountFactory

    account = AccountFactory(owner=customer, name="Old")

    response = admin_client.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {"name": "New", "metadata": "{}"},
        REMOTE_ADDR="192.0.2.44",
    )

    assert response.status_code == 302
    row = AuditLog.objects.get(action="account.change")
    assert (row.before["name"], row.after["name"]) == ("Old", "New")
    assert row.actor == superuser
    assert row.ip_address == "192.0.2.44"
    assert row.request_id  # the request id middleware's, as in the logs


def test_granting_a_permission_is_audited_without_the_password_hash(admin_client, bare_staff):
    staff = bare_staff  # holds no permission yet
    permission = Permission.objects.get(codename="approve_adjustment")

    response = admin_client.post(
        f"/admin/accounts/user/{staff.pk}/change/",
        {
            "email": staff.email,
            "is_active": "on",
            "is_staff": "on",
            "user_permissions": [permission.pk],
            "failed_login_count": 0,
            "date_joined_0": "2025-01-01",
            "date_joined_1": "00:00:00",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    row = AuditLog.objects.get(action="user.change")
    assert (row.before["user_permissions"], row.after["user_permissions"]) == ([], [permission.pk])
    assert "password" not in row.after


def test_audit_log_admin_is_read_only_with_filters(admin_client, superuser, customer):
    record_audit(superuser, "account.freeze", customer, None, None)
    row = AuditLog.objects.get()

    listing = admin_client.get("/admin/audit/auditlog/", {"action": "account.freeze"})
    assert listing.status_code == 200
    assert "account.freeze" in listing.content.decode()
    assert "delete_selected" not in listing.content.decode()
    for query in [{"actor__id__exact": superuser.pk}, {"created_at__year": row.created_at.year}]:
        assert admin_client.get("/admin/audit/auditlog/", query).status_code == 200
    assert admin_client.get("/admin/audit/auditlog/add/").status_code == 403
    assert admin_client.post(f"/admin/audit/auditlog/{row.pk}/delete/").status_code == 403
    changed = admin_client.post(
        f"/admin/audit/auditlog/{row.pk}/change/", {"action": "x", "after": "{}"}
    )
    assert changed.status_code == 403
    row.refresh_from_db()
    assert row.action == "account.freeze"
