"""Age buckets as filters, so one aggregate query can count rows by how old they are."""

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db.models import Q


def age_buckets(field: str, now: datetime, bounds: Sequence[timedelta]) -> dict[str, Q]:
    """Filters `age_0`, `age_1`, … splitting rows by the age of `field` at `now` into
    [0, b0), [b0, b1), …, [b_last, ∞) for increasing `bounds`."""
    edges = [None, *bounds, None]
    buckets = {}
    for index, (young, old) in enumerate(itertools.pairwise(edges)):
        condition = Q()
        if young is not None:
            condition &= Q(**{f"{field}__lte": now - young})
        if old is not None:
            condition &= Q(**{f"{field}__gt": now - old})
        buckets[f"age_{index}"] = condition
    return buckets
