"""Roles: Django groups of permissions, created by migration 0007_roles
(docs/access-control.md, "Roles").

A user's role is the highest role group they belong to; a user in none is a customer unless
they are staff (staff with hand-picked permissions have no named role).
"""

CUSTOMER, OPERATOR, AUDITOR, ADMIN = "customer", "operator", "auditor", "admin"
# Highest first: a user in several role groups is shown as the highest.
ROLES = (ADMIN, OPERATOR, AUDITOR, CUSTOMER)
STAFF_ROLES = (ADMIN, OPERATOR, AUDITOR)


def role_of(user) -> str | None:
    """The user's role name; reads the user's groups (prefetch `groups` for lists)."""
    names = {group.name for group in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role
    return None if user.is_staff else CUSTOMER
