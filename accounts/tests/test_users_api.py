"""User administration for staff and roles as groups of permissions (issue 16, part 2)."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from accounts.models import User
from accounts.roles import ROLES, role_of
from accounts.tests.factories import TEST_PASSWORD, UserFactory
from audit.models import AuditLog
from conftest import client_for

pytestmark = pytest.mark.django_db

USERS = "/api/v1/users"


def with_role(role: str, **fields) -> User:
    user = UserFactory.create(is_staff=role != "customer", **fields)
    user.groups.add(Group.objects.get(name=role))
    return user


def problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    return response.json()


def states():
    return list(User.objects.order_by("pk").values_list("is_active", "is_staff"))


def test_the_roles_exist_with_their_rights():
    rights = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.filter(name__in=ROLES).prefetch_related("permissions")
    }
    assert set(rights) == set(ROLES)
    assert rights["customer"] == set()
    assert {"ledger.deposit", "orders.change_order", "ledger.transfer_any"} <= rights["operator"]
    assert "accounts.change_user" not in rights["operator"]
    # Auditors read everything and change nothing.
    assert all(r.split(".")[1].startswith("view_") for r in rights["auditor"])
    assert {"accounts.view_user", "ledger.view_transaction", "audit.view_auditlog"} <= rights[
        "auditor"
    ]
    assert rights["operator"] | rights["auditor"] <= rights["admin"]
    assert "accounts.change_user" in rights["admin"]


def readme_roles() -> dict[str, set[str]]:
    """The "**Roles.**" table of docs/access-control.md: each role and the rights it names."""
    path = Path(settings.BASE_DIR) / "docs" / "access-control.md"
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("**Roles.**"))
    rows: dict[str, set[str]] = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            if rows:
                break  # the table ended
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        role = re.fullmatch(r"`(\w+)`", cells[0])
        if role:
            rows[role.group(1)] = set(re.findall(r"`(\w+\.\w+)`", cells[-1]))
    return rows


def test_the_readme_roles_table_lists_exactly_the_role_groups():
    table = readme_roles()
    groups = {
        group.name: {f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()}
        for group in Group.objects.prefetch_related("permissions__content_type")
    }
    assert set(table) == set(groups) == set(ROLES)
    for role, named in table.items():
        assert named <= groups[role], (role, named - groups[role])


def test_admin_lists_users_with_filters():
    admin = with_role("admin")
    operator = with_role("operator", email="op@example.com")
    auditor = with_role("auditor")
    customer = UserFactory(email="ada@example.com")
    inactive = UserFactory(is_active=False)
    client = client_for(admin)

    def ids(**query):
        response = client.get(USERS, query)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids() >= {admin.pk, operator.pk, auditor.pk, customer.pk, inactive.pk}
    assert ids(role="operator") == {operator.pk}
    assert ids(role="customer") >= {customer.pk, inactive.pk}
    assert operator.pk not in ids(role="customer")
    assert ids(email="ADA@") == {customer.pk}
    assert inactive.pk in ids(is_active="false")
    assert customer.pk not in ids(is_active="false")
    assert customer.pk not in ids(is_staff="true")
    assert ids(email_verified="true") == set()
    row = client.get(f"{USERS}/{operator.pk}").json()
    assert row["role"] == "operator"
    assert set(row) == {
        "id",
        "email",
        "telegram_id",
        "role",
        "is_staff",
        "is_superuser",
        "is_active",
        "email_verified",
        "date_joined",
        "last_login",
    }
    problem(client.get(USERS, {"role": "king"}), 400, "validation_error")
    problem(client.get(f"{USERS}/999999"), 404, "not_found")


def test_auditor_reads_users_but_changes_nothing():
    auditor, target = with_role("auditor"), UserFactory()
    client = client_for(auditor)
    assert client.get(USERS).status_code == 200
    assert client.get(f"{USERS}/{target.pk}").status_code == 200
    before = states()
    problem(client.post(f"{USERS}/{target.pk}/deactivate"), 403, "permission_denied")
    problem(client.patch(f"{USERS}/{target.pk}", {"role": "operator"}, format="json"), 403,
            "permission_denied")  # fmt: skip
    assert states() == before


@pytest.mark.parametrize("role", ["customer", "operator"])
def test_customers_and_operators_cannot_see_users(role):
    client = client_for(with_role(role))
    problem(client.get(USERS), 403, "permission_denied")


def test_deactivate_and_reactivate_are_audited_and_end_sessions():
    admin, target = with_role("admin"), UserFactory()
    target_client = APIClient()
    pair = target_client.post(
        "/api/v1/auth/token", {"email": target.email, "password": TEST_PASSWORD}, format="json"
    ).json()
    client = client_for(admin)

    response = client.post(f"{USERS}/{target.pk}/deactivate")

    assert response.status_code == 200, response.content
    assert response.json()["is_active"] is False
    refresh = target_client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]},
                                 format="json")  # fmt: skip
    problem(refresh, 401, "authentication_failed")
    log = AuditLog.objects.get(action="user.deactivate", target_id=str(target.pk))
    assert log.actor_id == admin.pk
    assert log.before["is_active"] is True
    assert log.after["is_active"] is False

    assert client.post(f"{USERS}/{target.pk}/reactivate").json()["is_active"] is True
    assert AuditLog.objects.filter(action="user.reactivate", target_id=str(target.pk)).exists()
    # Revoked refresh tokens stay revoked: the user signs in afresh.
    refresh = target_client.post("/api/v1/auth/token/refresh", {"refresh": pair["refresh"]},
                                 format="json")  # fmt: skip
    problem(refresh, 401, "authentication_failed")


def test_admin_sets_a_role():
    admin, target = with_role("admin"), UserFactory()
    client = client_for(admin)

    response = client.patch(f"{USERS}/{target.pk}", {"role": "operator"}, format="json")

    assert response.status_code == 200, response.content
    assert response.json()["role"] == "operator"
    target.refresh_from_db()
    assert target.is_staff is True
    assert target.has_perm("ledger.deposit")
    log = AuditLog.objects.get(action="user.set_role")
    assert (log.before["role"], log.after["role"]) == ("customer", "operator")

    response = client.patch(f"{USERS}/{target.pk}", {"role": "customer"}, format="json")
    assert response.json()["role"] == "customer"
    target.refresh_from_db()
    assert target.is_staff is False
    assert role_of(target) == "customer"
    problem(client.patch(f"{USERS}/{target.pk}", {"role": "king"}, format="json"), 400,
            "validation_error")  # fmt: skip


def test_nobody_changes_their_own_standing():
    admin = with_role("admin")
    client = client_for(admin)
    before = states()
    problem(client.post(f"{USERS}/{admin.pk}/deactivate"), 403, "permission_denied")
    problem(client.patch(f"{USERS}/{admin.pk}", {"role": "customer"}, format="json"), 403,
            "permission_denied")  # fmt: skip
    assert states() == before
    assert not AuditLog.objects.filter(action__startswith="user.").exists()


def test_staff_cannot_touch_superusers():
    admin = with_role("admin")
    root = UserFactory(is_staff=True, is_superuser=True)
    client = client_for(admin)
    problem(client.post(f"{USERS}/{root.pk}/deactivate"), 403, "permission_denied")
    problem(client.patch(f"{USERS}/{root.pk}", {"role": "customer"}, format="json"), 403,
            "permission_denied")  # fmt: skip
    root.refresh_from_db()
    assert root.is_active


def test_no_escalation_beyond_ones_own_rights():
    # A user admin holding only the user rights cannot hand out operator rights, nor manage
    # someone holding rights they lack.
    manager = UserFactory(is_staff=True, rights=["accounts.view_user", "accounts.change_user"])
    customer, operator = UserFactory(), with_role("operator")
    client = client_for(manager)
    problem(client.patch(f"{USERS}/{customer.pk}", {"role": "operator"}, format="json"), 403,
            "permission_denied")  # fmt: skip
    problem(client.patch(f"{USERS}/{customer.pk}", {"role": "admin"}, format="json"), 403,
            "permission_denied")  # fmt: skip
    problem(client.post(f"{USERS}/{operator.pk}/deactivate"), 403, "permission_denied")
    assert client.post(f"{USERS}/{customer.pk}/deactivate").status_code == 200
    customer.refresh_from_db()
    assert role_of(customer) == "customer"
    operator.refresh_from_db()
    assert operator.is_active


def test_a_superuser_may_make_an_admin():
    root = UserFactory(is_staff=True, is_superuser=True)
    target = UserFactory()
    response = client_for(root).patch(f"{USERS}/{target.pk}", {"role": "admin"}, format="json")
    assert response.json()["role"] == "admin"
