"""Configuration a money movement reads — risk rules, balance monitors, webhook subscribers —
cached in each process and checked for freshness at no cost.

Database triggers give `ledger_configversion` a new, never reused version whenever a rule, a
monitor, an endpoint or anything deciding who receives which events (a user's staff/active/
superuser flags, permissions, groups) changes, in the same transaction as the change. The
statement that locks a movement's accounts also reads that version (`version_expression()`),
so a process learns its cache is stale in the round trip it makes anyway and reloads before
applying any rule: a rule saved is in force for the very next movement, in every process.

A version of `None` (the row is missing: a test flushed the table) means "never cache".
"""

import threading
from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Subquery

from ledger.models import BalanceMonitor, ConfigVersion, RiskRule
from webhooks.services import Subscribers, load_subscribers


@dataclass(frozen=True)
class Config:
    version: int | None
    rules: tuple[RiskRule, ...] = ()
    monitors: dict[int, list[BalanceMonitor]] = field(default_factory=dict)  # by account pk
    subscribers: Subscribers = field(default_factory=Subscribers)

    def rules_for(self, source) -> list[RiskRule]:
        """The active rules applying to a debit of `source` (in rule order)."""
        return [
            rule
            for rule in self.rules
            if rule.asset_id == source.asset_id
            and rule.account_id in (None, source.pk)
            and rule.user_id in (None, source.owner_id)
        ]

    def monitors_of(self, account_ids) -> list[BalanceMonitor]:
        return [m for pk in account_ids for m in self.monitors.get(pk, ())]


_lock = threading.Lock()
_cached: Config | None = None


def version_expression() -> Subquery:
    """The current version, as a column of the statement that locks the accounts."""
    return Subquery(ConfigVersion.objects.filter(pk=1).values("version")[:1])


def config_at(version: int | None) -> Config:
    """The configuration as of `version` (read in this transaction): cached unless stale."""
    global _cached
    cached = _cached
    if version is not None and cached is not None and cached.version == version:
        return cached
    monitors: dict[int, list[BalanceMonitor]] = defaultdict(list)
    for monitor in BalanceMonitor.objects.filter(is_active=True).order_by("pk"):
        monitors[monitor.account_id].append(monitor)
    fresh = Config(
        version=version,
        rules=tuple(RiskRule.objects.filter(is_active=True).order_by("pk")),
        monitors=dict(monitors),
        subscribers=load_subscribers(),
    )
    if version is not None:
        with _lock:
            _cached = fresh
    return fresh
