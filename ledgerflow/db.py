"""Bounded retries for database contention (deadlocks, serialization failures, busy SQLite)."""

import functools
import logging
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.db import OperationalError, transaction

from ledgerflow.errors import Contention

logger = logging.getLogger("ledgerflow.db")
P = ParamSpec("P")
R = TypeVar("R")

# 40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available
CONTENTION_SQLSTATES = {"40001", "40P01", "55P03"}


def is_contention(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc
    if getattr(cause, "sqlstate", None) in CONTENTION_SQLSTATES:
        return True
    return "database is locked" in str(exc) or "database table is locked" in str(exc)


def retry_on_contention(func: Callable[P, R]) -> Callable[P, R]:
    """Re-run the whole unit on contention; a no-op inside an outer atomic (it owns the retry).

    When retries run out it raises Contention (409 + Retry-After), never a 500.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if transaction.get_connection().in_atomic_block:
            return func(*args, **kwargs)
        attempts = settings.CONTENTION_RETRIES
        for attempt in range(1, attempts + 1):
            try:
                return func(*args, **kwargs)
            except OperationalError as exc:
                if not is_contention(exc):
                    raise
                logger.warning("contention in %s, attempt %d: %s", func.__name__, attempt, exc)
                if attempt == attempts:
                    raise Contention("The database is busy; retry the request.") from exc
                time.sleep(random.uniform(0, 0.01 * 2**attempt))  # noqa: S311 - jitter only  # nosec B311
        raise AssertionError("unreachable")

    return wrapper
