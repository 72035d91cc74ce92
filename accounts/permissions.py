"""The operator rights of the API (ledgerflow.permissions checks them), one constant each.

Staff users and their API keys need the right of each money endpoint, the same permission the
admin checks; customers need none to act on what they own.
"""

from typing import TYPE_CHECKING

from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    from accounts.models import User

# Operator rights. Custom ones are in ledger.models.Transaction.Meta; the rest are Django's
# model permissions. (webhooks.view_event, every event, lives in webhooks: it imports no app.)
DEPOSIT = "ledger.deposit"  # POST /deposits: money in from the world account, to any account
WITHDRAW_ANY = "ledger.withdraw_any"  # POST /withdrawals from an account the caller doesn't own
TRANSFER_ANY = "ledger.transfer_any"  # move money out of, or settle holds of, any account
POST_JOURNAL = "ledger.post_journal"  # POST /transactions: a general journal
REVERSE = "ledger.reverse_transaction"  # POST /transactions/{id}/reverse
REVIEW_HOLD = "ledger.review_hold"  # approve / decline a transfer held for risk review
MANAGE_ORDERS = "orders.change_order"  # complete, fail or cancel any order
RECORD_DEPOSIT = "orders.record_deposit"  # POST /orders/deposits: the indexer feed
# Read rights (auditors): see every row of the kind, with every entry's balance_after.
VIEW_ACCOUNTS = "accounts.view_account"
VIEW_TRANSACTIONS = "ledger.view_transaction"
VIEW_ORDERS = "orders.view_order"
# Account lifecycle of any account: PATCH /accounts/{id}, POST /accounts/{id}/close.
CHANGE_ACCOUNTS = "accounts.change_account"
# User administration (/users): read, and deactivate/reactivate/set role. AUTH_USER_MODEL is
# accounts.User, so these are the `accounts.*_user` permissions the admin checks too.
VIEW_USERS = "accounts.view_user"
MANAGE_USERS = "accounts.change_user"


# For annotations (mypy): the request of a view or admin action that only an authenticated
# caller reaches (its permission classes, or the admin's staff check), so `request.user` is a
# User (an API key acts as its user), never the AnonymousUser. DRF and Django build the plain
# classes; nothing is checked at runtime.
class AuthenticatedRequest(Request):
    user: "User"


class AuthenticatedHttpRequest(HttpRequest):
    user: "User"


class IsStaffUser(BasePermission):
    message = "Only staff may do this."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and request.user.is_staff)
