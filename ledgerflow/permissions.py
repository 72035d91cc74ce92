"""Operator rights over the API: a Django permission per right, as the admin checks them.

`is_staff` alone grants nothing: staff users and their API keys (which act with their user's
rights) need each endpoint's permission. Customers need none to act on what they own.
"""

from rest_framework.permissions import BasePermission

from ledgerflow.errors import PermissionDenied


def has_right(user, perm: str) -> bool:
    """`perm` held by an active, authenticated staff user (superusers hold every right).

    Checks `is_staff` first, so a customer's request costs no permission query.
    """
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(perm)
    )


def requires(perm: str) -> type[BasePermission]:
    """A DRF permission class admitting only callers holding `perm` (403 otherwise)."""

    class HasRight(BasePermission):
        message = f"This needs the {perm} permission."

        def has_permission(self, request, view) -> bool:
            return has_right(request.user, perm)

    HasRight.__name__ = HasRight.__qualname__ = f"Requires_{perm.replace('.', '_')}"
    return HasRight


def refuse_if_visible(actor, right: str, view_right: str, found) -> None:
    """Raise PermissionDenied (403) when staff lacking `right` may see the object anyway
    (`view_right`; `found` is a queryset of it): a 404 for what it can read would mislead
    it. Called on the refusal path only, so an allowed request pays nothing."""
    if right != view_right and has_right(actor, view_right) and found.exists():
        raise PermissionDenied(f"This needs the {right} permission.")
