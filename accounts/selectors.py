"""Every read of accounts, scoped by the caller: someone else's account is NotFound (404)."""

from django.db.models import QuerySet

from accounts.models import Account, User
from ledgerflow.errors import NotFound


def accounts_of(actor: User) -> QuerySet[Account]:
    return Account.objects.filter(owner=actor).select_related("asset", "owner")


def account_for(actor: User, public_id: str) -> Account:
    """The caller's account (staff: any account), or NotFound."""
    qs = Account.objects.select_related("asset", "owner")
    if not actor.is_staff:
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
