"""The user admin cannot be used to escalate privileges.

Only superusers edit `is_superuser`, groups and permissions (of anyone, groups' permissions
included); a staff user with the user-admin permissions edits other fields of ordinary users,
never a superuser, and never their own `is_staff`. Each test goes through the real admin
change form, the way an operator would.
"""

from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission

from accounts.models import User
from audit.models import AuditLog

pytestmark = pytest.mark.django_db


def perm(codename: str) -> Permission:
    return Permission.objects.get(codename=codename)


@pytest.fixture
def user_admin(user_factory):
    """Staff who may manage users (view/change), but is not a superuser."""
    operator = user_factory(is_staff=True)
    operator.user_permissions.add(perm("view_user"), perm("change_user"))
    return operator


@pytest.fixture
def operators_group():
    return Group.objects.create(name="operators-test")


def change_form_data(user: User, **overrides) -> dict:
    """Every editable field of the change form as it is now, then the overrides."""
    data: dict[str, Any] = {
        "email": user.email,
        "telegram_id": user.telegram_id or "",
        "locked_until_0": "",
        "locked_until_1": "",
    }
    for flag in ("is_active", "is_staff", "is_superuser"):
        if getattr(user, flag):
            data[flag] = "on"
    data["groups"] = [str(pk) for pk in user.groups.values_list("pk", flat=True)]
    data["user_permissions"] = [
        str(pk) for pk in user.user_permissions.values_list("pk", flat=True)
    ]
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def privileges(user: User) -> tuple:
    user = User.objects.get(pk=user.pk)
    return (
        user.is_staff,
        user.is_superuser,
        sorted(user.groups.values_list("name", flat=True)),
        sorted(user.user_permissions.values_list("codename", flat=True)),
    )


def test_staff_cannot_make_themselves_superuser_or_grant_themselves_permissions(
    client, user_admin, operators_group
):
    client.force_login(user_admin)
    before = privileges(user_admin)

    response = client.post(
        f"/admin/accounts/user/{user_admin.pk}/change/",
        change_form_data(
            user_admin,
            telegram_id="tg-self",
            is_superuser="on",
            groups=[str(operators_group.pk)],
            user_permissions=[
                str(perm("approve_adjustment").pk),
                str(perm("view_user").pk),
                str(perm("change_user").pk),
            ],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert privileges(user_admin) == before
    assert User.objects.get(pk=user_admin.pk).telegram_id == "tg-self"  # other fields still save


def test_staff_cannot_drop_or_change_their_own_staff_flag(client, user_admin):
    client.force_login(user_admin)

    response = client.post(
        f"/admin/accounts/user/{user_admin.pk}/change/",
        change_form_data(user_admin, is_staff=None),  # unticked
    )

    assert response.status_code == 302
    assert User.objects.get(pk=user_admin.pk).is_staff is True


def test_staff_cannot_grant_superuser_groups_or_permissions_to_another_user(
    client, user_admin, customer, operators_group
):
    client.force_login(user_admin)
    before = privileges(customer)

    response = client.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        change_form_data(
            customer,
            telegram_id="tg-customer",
            is_superuser="on",
            groups=[str(operators_group.pk)],
            user_permissions=[str(perm("approve_adjustment").pk)],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert privileges(customer) == before
    assert User.objects.get(pk=customer.pk).telegram_id == "tg-customer"


def test_change_form_shows_privilege_fields_read_only_to_staff(client, user_admin, customer):
    client.force_login(user_admin)

    form = client.get(f"/admin/accounts/user/{customer.pk}/change/").context["adminform"].form

    assert not {"is_superuser", "groups", "user_permissions"} & set(form.fields)
    own_form = client.get(f"/admin/accounts/user/{user_admin.pk}/change/").context["adminform"]
    assert "is_staff" not in own_form.form.fields


def test_staff_cannot_edit_a_superuser_at_all(client, user_admin, user_factory):
    root = user_factory(is_staff=True, is_superuser=True, telegram_id="tg-root")
    client.force_login(user_admin)
    audits = AuditLog.objects.count()

    response = client.post(
        f"/admin/accounts/user/{root.pk}/change/",
        change_form_data(root, is_superuser=None, is_active=None, telegram_id="tg-owned"),
    )
    password = client.post(
        f"/admin/accounts/user/{root.pk}/password/",
        {"password1": "another strong passphrase", "password2": "another strong passphrase"},
    )

    assert response.status_code == 403
    assert password.status_code == 403
    root.refresh_from_db()
    assert (root.is_superuser, root.is_active, root.telegram_id) == (True, True, "tg-root")
    assert root.check_password("s3cure-Passw0rd!")
    assert AuditLog.objects.count() == audits


def test_superuser_still_grants_superuser_groups_and_permissions(
    client, user_factory, customer, operators_group
):
    client.force_login(user_factory(is_staff=True, is_superuser=True))

    response = client.post(
        f"/admin/accounts/user/{customer.pk}/change/",
        change_form_data(
            customer,
            is_staff="on",
            is_superuser="on",
            groups=[str(operators_group.pk)],
            user_permissions=[str(perm("approve_adjustment").pk)],
        ),
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert privileges(customer) == (True, True, ["operators-test"], ["approve_adjustment"])


def test_staff_cannot_add_permissions_to_a_group_through_the_group_admin(
    client, user_admin, operators_group
):
    user_admin.user_permissions.add(perm("view_group"), perm("change_group"), perm("add_group"))
    user_admin.groups.add(operators_group)
    client.force_login(user_admin)

    response = client.post(
        f"/admin/auth/group/{operators_group.pk}/change/",
        {"name": operators_group.name, "permissions": [str(perm("approve_adjustment").pk)]},
    )
    added = client.post(
        "/admin/auth/group/add/",
        {"name": "escalated", "permissions": [str(perm("approve_adjustment").pk)]},
    )

    assert response.status_code == 403
    assert added.status_code == 403
    assert not operators_group.permissions.exists()
    assert not Group.objects.filter(name="escalated").exists()
    assert not User.objects.get(pk=user_admin.pk).has_perm("ledger.approve_adjustment")


@pytest.mark.parametrize("active", [True, False])
def test_staff_cannot_take_over_an_operator_with_rights_they_lack(
    client, user_admin, user_factory, active
):
    approver = user_factory(is_staff=True, is_active=active, telegram_id="tg-approver")
    approver.user_permissions.add(perm("approve_adjustment"))
    client.force_login(user_admin)

    response = client.post(
        f"/admin/accounts/user/{approver.pk}/change/",
        change_form_data(approver, email="attacker@example.com", is_active="on"),
    )
    password = client.post(
        f"/admin/accounts/user/{approver.pk}/password/",
        {"password1": "another strong passphrase", "password2": "another strong passphrase"},
    )

    assert (response.status_code, password.status_code) == (403, 403)
    approver.refresh_from_db()
    assert approver.email != "attacker@example.com"
    assert approver.is_active is active
    assert approver.check_password("s3cure-Passw0rd!")
    assert client.get(f"/admin/accounts/user/{approver.pk}/change/").status_code == 200  # view
