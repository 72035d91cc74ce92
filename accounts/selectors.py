"""Every read of accounts, scoped by the caller: someone else's account is NotFound (404)."""

from django.contrib.auth.models import Group
from django.db.models import Prefetch, Q, QuerySet, Sum

from accounts import roles
from accounts.models import Account, ApiKey, User
from accounts.permissions import VIEW_ACCOUNTS
from ledgerflow.errors import NotFound
from ledgerflow.permissions import has_right, refuse_if_visible


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
        refuse_if_visible(actor, right, VIEW_ACCOUNTS, Account.objects.filter(public_id=public_id))
        raise NotFound(f"No account {public_id!r}.")
    return account


def account_by_public_id(public_id: str) -> Account:
    """Any account by id, for a destination the caller does not own; NotFound otherwise."""
    account = Account.objects.select_related("asset").filter(public_id=public_id).first()
    if account is None:
        raise NotFound(f"No account {public_id!r}.")
    return account


def users_for(
    *,
    email: str = "",
    role: str = "",
    is_active: bool | None = None,
    is_staff: bool | None = None,
    email_verified: bool | None = None,
) -> QuerySet[User]:
    """Users for staff holding VIEW_USERS (the view checks it), filtered; groups prefetched
    for `role`. `role=customer` means no staff role and not staff."""
    qs = User.objects.prefetch_related(Prefetch("groups", queryset=Group.objects.only("name")))
    if email:
        qs = qs.filter(email__icontains=email.strip())
    if role == roles.CUSTOMER:
        qs = qs.filter(is_staff=False).exclude(groups__name__in=roles.STAFF_ROLES)
    elif role:
        qs = qs.filter(groups__name=role)
    for field, value in (("is_active", is_active), ("is_staff", is_staff)):
        if value is not None:
            qs = qs.filter(**{field: value})
    if email_verified is not None:
        qs = qs.filter(email_verified_at__isnull=not email_verified)
    return qs


def user_for(user_id: int) -> User:
    user = users_for().filter(pk=user_id).first()
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def balances_by_asset() -> list[dict]:
    """Sum of balances per asset, split into customer and system accounts: one aggregate
    query, for the operator dashboard. Rows `{asset__code, asset__exponent, customer,
    customer_held, system}` in minor units; customer + system is zero when the books balance."""
    customer, system = Q(system_code__isnull=True), Q(system_code__isnull=False)
    return list(
        Account.objects.values("asset__code", "asset__exponent")
        .annotate(
            customer=Sum("balance", filter=customer, default=0),
            customer_held=Sum("pending_debits", filter=customer, default=0),
            system=Sum("balance", filter=system, default=0),
        )
        .order_by("asset__code")
    )
