"""Bounded retries for database contention (deadlocks, serialization failures, busy SQLite)."""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import IntegrityError, OperationalError, transaction
from django.dispatch import Signal

from ledgerflow import metrics
from ledgerflow.errors import Contention, DomainError

logger = logging.getLogger("ledgerflow.db")
P = ParamSpec("P")
R = TypeVar("R")

# 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}

# Sent once per refusal (`exc`, a DomainError) by the service unit that refused, after its
# transaction rolled back and outside every atomic block: what a receiver writes is its own
# and survives the rollback (audit.services writes the audit row of an `audit_action`).
# A receiver that fails is logged; it never turns the refusal into another error.
refused = Signal()


def is_contention(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    if getattr(cause, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def retry_on_contention(func: Callable[P, R]) -> Callable[P, R]:
    """Re-run the whole unit on contention; a no-op inside an outer atomic (it owns the retry).

    When retries run out it raises Contention (409 + Retry-After), never a 500. A refusal (a
    DomainError) leaving the outermost unit, its transaction rolled back, is announced on
    `refused` first.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return _retried(func, *args, **kwargs)
        except DomainError as exc:
            if not in_transaction():  # the outermost unit: its transaction has rolled back
                announce_refusal(exc)
            raise

    return wrapper


def _retried(func: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    if transaction.get_connection().in_atomic_block:
        return func(*args, **kwargs)
    attempts = settings.CONTENTION_RETRIES
    for attempt in range(1, attempts + 1):
        # What an attempt counts (ledgerflow.metrics) is counted after its atomic block, once
        # its outcome stands; an attempt retried here counts nothing.
        with metrics.attempt_counts() as counts:
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_contention(exc):
                    raise
                counts.drop()
                logger.warning("contention in %s, attempt %d: %s", func.__name__, attempt, exc)
                if attempt == attempts:
                    raise Contention("The database is busy; retry the request.") from exc
        time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter only  # nosec B311
    raise AssertionError("unreachable")


def violated_constraint(exc: IntegrityError) -> str | None:
    """The constraint (or unique index) an IntegrityError broke, by name: PostgreSQL reports
    it; SQLite does not (None). Map names to domain errors, never the message text."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def in_transaction() -> bool:
    """Inside an atomic block the code opened (a test case's own wrapping does not count)."""
    blocks = transaction.get_connection().atomic_blocks
    return any(not getattr(block, "_from_testcase", False) for block in blocks)


def announce_refusal(exc: DomainError) -> None:
    """Send `refused` for `exc`, once, whichever units it leaves; receivers' errors are logged."""
    if getattr(exc, "_refusal_announced", False):
        return
    exc._refusal_announced = True  # type: ignore[attr-defined]
    for receiver, result in refused.send_robust(sender=type(exc), exc=exc):
        if isinstance(result, Exception):
            logger.error("refusal receiver %r failed", receiver, exc_info=result)
