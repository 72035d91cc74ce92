"""Manual adjustments with four eyes: one operator proposes, a different one decides.

Only an approval moves money, through `post_journal(kind="adjustment")` against the asset's
`adjustments` system account, in the same transaction as the status change. Lock order: the
adjustment request row, then the accounts (taken by post_journal in primary-key order).
"""

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from accounts.models import Account, User
from accounts.services import system_account
from ledger.locks import lock_adjustment_request
from ledger.models import AdjustmentRequest
from ledger.services.books import minor_amount
from ledger.services.movements import post_journal
from ledgerflow.db import retry_on_contention
from ledgerflow.errors import InvalidState, NotFound, PermissionDenied, ValidationFailed
from ledgerflow.money import to_major


@transaction.atomic
def propose_adjustment(
    *, actor: User, account_id: int, amount: Decimal, direction: str, reason: str
) -> AdjustmentRequest:
    """Record a proposal; moves no money. `amount` is positive major units.

    Raises PermissionDenied (needs `ledger.request_adjustment`), NotFound, ValidationFailed.
    """
    if not actor.has_perm("ledger.request_adjustment"):
        raise PermissionDenied("Proposing an adjustment needs ledger.request_adjustment.")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("A reason is required.", {"reason": ["Required."]})
    if direction not in AdjustmentRequest.Direction.values:
        raise ValidationFailed("Direction is credit or debit.", {"direction": ["Unknown."]})
    if amount <= 0:
        raise ValidationFailed("The amount must be positive.", {"amount": ["Must be positive."]})
    account = Account.objects.select_related("asset").filter(pk=account_id).first()
    if account is None:
        raise NotFound("No such account.")
    if account.system_code == Account.System.ADJUSTMENTS:
        raise ValidationFailed(
            "The adjustments account is the other side of every adjustment.",
            {"account": ["Choose the account to correct."]},
        )
    return AdjustmentRequest.objects.create(
        account=account,
        amount=minor_amount(amount, account.asset),
        direction=direction,
        reason=reason,
        proposed_by=actor,
    )


@retry_on_contention
@transaction.atomic
def approve_adjustment(*, actor: User, adjustment_id: int) -> AdjustmentRequest:
    """Approve a proposal and post its `adjustment` transaction, once.

    Raises PermissionDenied (no `ledger.approve_adjustment`, or the actor proposed it),
    NotFound, InvalidState (already decided), and the journal's AccountInactive or
    InsufficientFunds; on any error nothing changes.
    """
    adjustment = _lock_undecided(actor, adjustment_id)
    account = adjustment.account
    counter = system_account(asset=account.asset, system_code=Account.System.ADJUSTMENTS)
    amount = Decimal(to_major(adjustment.amount, account.asset.exponent))
    signed = amount if adjustment.direction == AdjustmentRequest.Direction.CREDIT else -amount
    adjustment.transaction = post_journal(
        actor=actor,
        entries=[(account.pk, signed), (counter.pk, -signed)],
        kind="adjustment",
        reference=f"adjustment {adjustment.pk}: {adjustment.reason}"[:255],
        metadata={"adjustment": adjustment.pk, "proposed_by": adjustment.proposed_by_id},
    )
    return _decide(adjustment, actor, AdjustmentRequest.Status.APPROVED)


@retry_on_contention
@transaction.atomic
def reject_adjustment(*, actor: User, adjustment_id: int) -> AdjustmentRequest:
    """Reject a proposal; moves no money. Raises like `approve_adjustment`."""
    adjustment = _lock_undecided(actor, adjustment_id)
    return _decide(adjustment, actor, AdjustmentRequest.Status.REJECTED)


def _lock_undecided(actor: User, adjustment_id: int) -> AdjustmentRequest:
    if not actor.has_perm("ledger.approve_adjustment"):
        raise PermissionDenied("Deciding an adjustment needs ledger.approve_adjustment.")
    adjustment = lock_adjustment_request(adjustment_id)
    if adjustment is None:
        raise NotFound("No such adjustment request.")
    if adjustment.status != AdjustmentRequest.Status.PROPOSED:
        raise InvalidState(f"This adjustment is already {adjustment.status}.")
    if adjustment.proposed_by_id == actor.pk:
        raise PermissionDenied("Nobody decides their own proposal: ask another operator.")
    return adjustment


def _decide(adjustment: AdjustmentRequest, actor: User, status: str) -> AdjustmentRequest:
    adjustment.status, adjustment.decided_by, adjustment.decided_at = status, actor, timezone.now()
    adjustment.save(update_fields=["status", "decided_by", "decided_at", "transaction"])
    return adjustment
