from rest_framework.permissions import BasePermission

from accounts.models import ApiKey


def is_operator(request) -> bool:
    """Staff users, and servers calling with an API key, act as operators."""
    return bool(request.user and request.user.is_authenticated) and (
        request.user.is_staff or isinstance(request.auth, ApiKey)
    )


class IsOperator(BasePermission):
    message = "Only staff or an API key may do this."

    def has_permission(self, request, view) -> bool:
        return is_operator(request)


class IsStaffUser(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
