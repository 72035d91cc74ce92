"""Risk rules, checked inside the locked transaction of every outgoing customer movement.

The source account's row lock serialises every debit of that account, so counts and sums read
here cannot race; rules scoped to a user additionally lock that user's row (always the last
lock taken, see `accounts/locks.py`), which serialises debits across the user's accounts.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db.models import Count, Q, Sum
from django.utils import timezone

from accounts.locks import lock_users
from accounts.models import Account
from ledger.errors import LimitExceeded
from ledger.models import Entry, RiskRule, Transaction
from ledgerflow import metrics
from ledgerflow.money import money_text

REVIEW = RiskRule.Action.REVIEW  # the decision that holds a movement for operators


@dataclass
class BatchUsage:
    """Debits already applied earlier in the same batch (not yet in the database)."""

    outflow: dict[int, int] = field(default_factory=dict)  # account pk -> minor units
    count: dict[int, int] = field(default_factory=dict)  # account pk -> debits

    def add(self, account_id: int, amount: int) -> None:
        self.outflow[account_id] = self.outflow.get(account_id, 0) + amount
        self.count[account_id] = self.count.get(account_id, 0) + 1


def rules_for(sources: Iterable[Account]) -> dict[int, list[RiskRule]]:
    """The active rules that apply to each source account, read with one query."""
    sources = list(sources)
    if not sources:
        return {}
    candidates = list(
        RiskRule.objects.filter(is_active=True, asset_id__in={s.asset_id for s in sources})
        .filter(
            Q(account__isnull=True, user__isnull=True)
            | Q(account_id__in=[s.pk for s in sources])
            | Q(user_id__in=[s.owner_id for s in sources if s.owner_id])
        )
        .order_by("pk")
    )
    return {
        source.pk: [
            rule
            for rule in candidates
            if rule.asset_id == source.asset_id
            and rule.account_id in (None, source.pk)
            and rule.user_id in (None, source.owner_id)
        ]
        for source in sources
    }


def lock_rule_users(rules: Iterable[RiskRule]) -> None:
    user_ids = {rule.user_id for rule in rules if rule.user_id}
    if user_ids:
        lock_users(user_ids)


def _scope(rule: RiskRule, source: Account) -> list[int]:
    if rule.user_id:
        return list(
            Account.objects.filter(owner_id=rule.user_id, asset_id=rule.asset_id).values_list(
                "pk", flat=True
            )
        )
    return [source.pk]


def _outflow_since(account_ids: list[int], since) -> int:
    posted = (
        Entry.objects.filter(
            account_id__in=account_ids, amount__lt=0, created_at__gte=since
        ).aggregate(total=Sum("amount"))["total"]
        or 0
    )
    held = (
        Account.objects.filter(pk__in=account_ids).aggregate(total=Sum("pending_debits"))["total"]
        or 0
    )
    return -posted + held


def _debits_since(account_ids: list[int], since) -> int:
    posted = Entry.objects.filter(
        account_id__in=account_ids, amount__lt=0, created_at__gte=since
    ).aggregate(n=Count("transaction_id", distinct=True))["n"]
    held = Transaction.objects.filter(
        hold_from_id__in=account_ids, status=Transaction.Status.PENDING, created_at__gte=since
    ).count()
    return posted + held


def evaluate(
    *, source: Account, amount: int, rules: list[RiskRule], usage: BatchUsage | None = None
) -> str | None:
    """Apply `rules` to a debit of `amount` from `source`.

    Raises LimitExceeded for a `reject` rule that is broken; returns "review" when a `review`
    rule is broken (the caller turns the movement into a hold awaiting an operator).
    A limit is broken only beyond it: a transfer of exactly the maximum passes.
    """
    now = timezone.now()
    usage = usage or BatchUsage()
    decision = None
    for rule in rules:
        scope = _scope(rule, source)
        batch_outflow = sum(usage.outflow.get(pk, 0) for pk in scope)
        batch_count = sum(usage.count.get(pk, 0) for pk in scope)
        if rule.kind == RiskRule.Kind.MAX_AMOUNT:
            broken = amount > rule.limit
        elif rule.kind == RiskRule.Kind.REVIEW_THRESHOLD:
            broken = amount >= rule.limit
        elif rule.kind == RiskRule.Kind.MAX_DAILY_OUTFLOW:
            used = _outflow_since(scope, now - timedelta(days=1)) + batch_outflow
            broken = used + amount > rule.limit
        else:  # MAX_TRANSFERS_PER_MINUTE
            used = _debits_since(scope, now - timedelta(minutes=1)) + batch_count
            broken = used + 1 > rule.limit
        outcome = rule.action if broken else "pass"
        metrics.RISK_DECISIONS.labels(rule_kind=rule.kind, decision=outcome).inc()
        if not broken:
            continue
        if rule.action == RiskRule.Action.REJECT:
            limit = (
                f"{rule.limit} transfers"
                if rule.kind == RiskRule.Kind.MAX_TRANSFERS_PER_MINUTE
                else money_text(rule.limit, source.asset)  # the rule's asset (rules_for)
            )
            raise LimitExceeded(
                f"Risk rule {rule.name!r} refused this movement ({rule.get_kind_display()}: "
                f"{limit}).",
                rule=rule.name,
                rule_id=rule.pk,
            )
        decision = REVIEW
    return decision
