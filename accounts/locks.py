"""Row locks on accounts, users and refresh tokens (the order: ledgerflow/locks.py)."""

from collections.abc import Iterable
from typing import Any

from django.db.models import Q
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.models import Account, User


def lock_accounts(
    ids: Iterable[int] = (),
    *,
    public_ids: Iterable[str] = (),
    annotations: dict[str, Any] | None = None,
) -> dict[int, Account]:
    """Lock the accounts named by primary key or public id, in primary-key order (no
    deadlocks between movements), and return them by pk — one statement.

    `annotations` ride along as extra columns of that statement (the ledger reads its
    configuration version this way, for free).
    """
    ids, public_ids = set(ids), set(public_ids)
    match = Q(pk__in=ids) | Q(public_id__in=public_ids) if public_ids else Q(pk__in=ids)
    rows = (
        Account.objects.filter(match)
        .select_related("asset")
        .order_by("pk")
        .select_for_update(of=("self",))
    )
    if annotations:
        rows = rows.annotate(**annotations)
    return {row.pk: row for row in rows}


def lock_users(ids: Iterable[int]) -> dict[int, User]:
    """Lock users' rows in primary-key order (per-user risk rules: always the last lock)."""
    rows = User.objects.filter(pk__in=set(ids)).order_by("pk").select_for_update()
    return {row.pk: row for row in rows}


def lock_user(user_id: int) -> User | None:
    """Lock one user's row (login lockout counts), or None if gone."""
    return lock_users([user_id]).get(user_id)


def lock_refresh_token(jti: str) -> OutstandingToken:
    """Lock a refresh token's row (locked alone: two uses of one token rotate it once)."""
    return OutstandingToken.objects.select_for_update().get(jti=jti)
