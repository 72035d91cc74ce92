"""Benchmark: rate-limit checks/s, DRF's SimpleRateThrottle against the GCRA limiter, one run.

    REDIS_URL=redis://127.0.0.1:6379/0 .venv/bin/python bench/throttle.py [--seconds 2]

Without REDIS_URL only the local-memory cache (the embedded default) is measured. Keys get a
prefix of their own and are deleted afterwards, so a shared Redis is safe to use.

Rows:
- DRF SimpleRateThrottle: stock `UserRateThrottle` for one user running at the default user rate
  (3000/min), so its history holds 3,000 timestamps: every check unpickles and re-pickles the
  list (a fake clock moves 20 ms per check, one timestamp in, one out).
- GCRA limiter: `ledgerflow.throttling.UserRateThrottle`, same user and rate with a limit high
  enough that every check is allowed (its cost does not depend on the rate or on the history).
- PING/s: bare round trips on the same Redis client, the floor of any limiter in Redis.
- race: 64 threads check at once against a limit of 50; how many got through (50 is right).
Single thread, one process, as a web worker serves one request at a time.
"""

import argparse
import os
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ledgerflow.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.cache import caches  # noqa: E402
from django.test.utils import override_settings  # noqa: E402
from rest_framework import throttling as drf  # noqa: E402

from ledgerflow import throttling as gcra  # noqa: E402

HISTORY = 3000  # the default user rate, 3000/min: one timestamp every 20 ms
STEP = 60 / HISTORY


def request_of(user_id: int):
    user = SimpleNamespace(is_authenticated=True, pk=user_id)
    return SimpleNamespace(user=user, META={"REMOTE_ADDR": "10.0.0.1"}, headers={})


def view():
    return SimpleNamespace(headers={})


def rate(cls, value: str):
    """A throttle instance of `cls` with `value` as its rate (DRF reads the rate in __init__)."""
    sub = type(cls.__name__, (cls,), {"rate": value})
    return sub()


def old_checks(seconds: float) -> float:
    clock = [time.time()]
    # A little headroom over 3000/min: float rounding of the fake clock must not refuse one.
    throttle = rate(drf.UserRateThrottle, f"{HISTORY + 100}/min")
    throttle.timer = lambda: clock[0]
    request = request_of(1)
    key = throttle.get_cache_key(request, None)
    # Newest first, as DRF keeps it: a user who has been running at the full rate for a minute.
    caches["default"].set(key, [clock[0] - STEP * i for i in range(1, HISTORY)], 60)
    count, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        clock[0] += STEP
        if not throttle.allow_request(request, None):
            raise SystemExit("the DRF throttle refused a request: the bench set-up is wrong")
        count += 1
    assert len(caches["default"].get(key)) >= HISTORY - 1
    return count / (time.perf_counter() - start)


def new_checks(seconds: float) -> float:
    throttle = rate(gcra.UserRateThrottle, "1000000/min")
    request = request_of(2)
    count, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        if not throttle.allow_request(request, view()):
            raise SystemExit("the GCRA throttle refused a request: the bench set-up is wrong")
        count += 1
    return count / (time.perf_counter() - start)


def pings(seconds: float) -> float:
    """Round trips/s of a bare PING on the same client: the floor any Redis limiter pays."""
    client = caches["default"]._cache.get_client(write=True)
    count, end = 0, time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < end:
        client.ping()
        count += 1
    return count / (time.perf_counter() - start)


def race(cls, user_id: int) -> int:
    throttle_class = type(cls.__name__, (cls,), {"rate": "50/day"})
    barrier = threading.Barrier(64)

    def one(_):
        throttle = throttle_class()
        barrier.wait()
        return throttle.allow_request(request_of(user_id), view())

    with ThreadPoolExecutor(max_workers=64) as pool:
        return sum(pool.map(one, range(64)))


def backends() -> list[tuple[str, dict]]:
    found = [("local memory", {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"})]
    if settings.REDIS_URL:
        found.append(
            (
                "Redis",
                {
                    "BACKEND": "django.core.cache.backends.redis.RedisCache",
                    "LOCATION": settings.REDIS_URL,
                    "KEY_PREFIX": f"bench-throttle-{uuid.uuid4().hex[:8]}",
                },
            )
        )
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    args = parser.parse_args()
    rows = []
    for name, config in backends():
        with override_settings(CACHES={"default": config}):
            old, new = old_checks(args.seconds), new_checks(args.seconds)
            old_race, new_race = race(drf.UserRateThrottle, 3), race(gcra.UserRateThrottle, 4)
            ping = pings(args.seconds) if "KEY_PREFIX" in config else None
            rows.append((name, old, new, ping, old_race, new_race))
            if "KEY_PREFIX" in config:
                client = caches["default"]._cache.get_client(write=True)
                keys = list(client.scan_iter(f"{config['KEY_PREFIX']}:*"))
                if keys:
                    client.delete(*keys)
    print(
        f"\n{'cache':<14}{'DRF checks/s':>14}{'GCRA checks/s':>15}{'ratio':>8}"
        f"{'PING/s':>9}   race: 64 at once, limit 50"
    )
    for name, old, new, ping, old_race, new_race in rows:
        print(
            f"{name:<14}{old:>14,.0f}{new:>15,.0f}{new / old:>7.1f}x"
            f"{f'{ping:,.0f}' if ping else '-':>9}   DRF let {old_race} through, GCRA {new_race}"
        )


if __name__ == "__main__":
    main()
