"""Every read of accounts, scoped by the caller: someone else's account is NotFound (404)."""

from django.db.models import QuerySet

from accounts.models import Account, ApiKey, User
from accounts.permissions import VIEW_ACCOUNTS
from ledgerflow.errors import NotFound
from ledgerflow.permissions import has_right


def accounts_of(actor: User) -> QuerySet[Account]:
    return Account.objects.filter(owner=actor).select_related("asset", "owner")


def api_keys_of(actor: User) -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(user=actor).order_by("-created_at", "-id")


def api_key_for(actor: User, key_id: int) -> ApiKey:
    """One of the caller's API keys, or NotFound (another staff member's key too)."""
    api_key = api_keys_of(actor).filter(pk=key_id).first()
    if api_key is None:
        raise NotFound(f"No API key {key_id}.")
    return api_key


def account_for(actor: User, public_id: str, *, right: str = VIEW_ACCOUNTS) -> Account:
    """The caller's account, or any account when the caller holds `right` (reading: view any
    account; moving money: that endpoint's right); NotFound otherwise, never 403."""
    qs = Account.objects.select_related("asset", "owner")
    if not has_right(actor, right):
        qs = qs.filter(owner=actor)
    account = qs.filter(public_id=public_id).first()
    if account is None:
        raise NotFound(f"No account {public_id!r}.")
    return account


def account_by_public_id(public_id: str) -> Account:
    """Any account by id, for a destination the caller does not own; NotFound otherwise."""
    account = Account.objects.select_related("asset").filter(public_id=public_id).first()
    if account is None:
        raise NotFound(f"No account {public_id!r}.")
    return account
