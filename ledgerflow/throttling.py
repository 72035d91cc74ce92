"""Rate limits: one atomic, constant-cost step per check, failing open when Redis is lost.

DRF's SimpleRateThrottle keeps every request timestamp of the window in the cache (up to 3,000
floats at the default user rate), unpickles and re-pickles that list on every request, and its
get-then-set lets racing requests overwrite each other's counts. These throttles keep DRF's
interface (classes, scopes and rates from DEFAULT_THROTTLE_RATES, `wait()` for Retry-After, who is
counted: user id, client address honouring NUM_PROXIES) and replace the bookkeeping with GCRA,
the generic cell rate algorithm: a key holds one number, the "theoretical arrival time" (TAT) of
the caller's next request. A rate of N per period P admits a burst of N, then one request every
P/N; a refused request changes nothing.

- Redis (RedisCache): one EVALSHA per check; the script reads the TAT, decides and writes it
  back atomically, on the Redis server's clock (web hosts' clocks may differ). The client is the
  cache's own, on its connection pool; keys go through `cache.make_key` (KEY_PREFIX, version).
- Any other cache (the embedded local-memory one): the same step in Python under a process-wide
  lock, which is atomic because that cache lives in this process too.

Losing rate limits for a while is better than answering every request with a 500: a cache error
logs a warning and lets the request through.
"""

import hashlib
import logging
import math
import threading
from dataclasses import dataclass

from django.core.cache import caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import NoScriptError, RedisError
from rest_framework import throttling

logger = logging.getLogger("ledgerflow.throttling")
CACHE_ERRORS = (RedisError, ConnectionError, TimeoutError, OSError)

# KEYS[1]: the caller's key. ARGV: limit (requests), period (ms), EPOCH. Times are ms on Redis's
# clock counted from EPOCH, so that a double keeps sub-microsecond steps (rates up to ~10^7/min).
# Returns {allowed 0/1, remaining, retry_after_ms, reset_ms}; mirrors gcra() below.
EPOCH = 1_700_000_000  # 2023-11-14, Unix seconds
GCRA_LUA = """
local limit = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local interval = period / limit
local clock = redis.call('TIME')
local now = (tonumber(clock[1]) - tonumber(ARGV[3])) * 1000 + tonumber(clock[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '') or now
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - period
if allow_at > now then
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
local ttl = math.max(1, math.ceil(new_tat - now))
redis.call('SET', KEYS[1], string.format('%.17g', new_tat), 'PX', ttl)
return {1, math.floor((now - allow_at) / interval + 1e-9), 0, ttl}
"""
GCRA_SHA = hashlib.sha1(GCRA_LUA.encode()).hexdigest()  # noqa: S324 - Redis names scripts so  # nosec B324

_local_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class Decision:
    """One check's outcome; times in seconds from now."""

    allowed: bool
    limit: int
    remaining: int  # further requests that would be allowed right now, after this one
    retry_after: float  # until the next request would be allowed (0 when this one was)
    reset: float  # until the full burst is available again


def gcra(
    tat: float | None, now: float, *, limit: int, period: float
) -> tuple[float | None, Decision]:
    """One GCRA step: the TAT to store (unchanged when refused) and the decision."""
    interval = period / limit
    tat = now if tat is None or tat < now else tat
    new_tat = tat + interval
    allow_at = new_tat - period
    if allow_at > now:
        return tat, Decision(False, limit, 0, allow_at - now, tat - now)
    remaining = math.floor((now - allow_at) / interval + 1e-9)
    return new_tat, Decision(True, limit, remaining, 0.0, new_tat - now)


def check_rate(key: str, *, limit: int, period: float, now: float) -> Decision:
    """Count one request against `key` in the default cache; raises CACHE_ERRORS if it is down.

    `now` is used by the in-process path only; Redis decides on its own clock.
    """
    if limit <= 0:
        return Decision(False, 0, 0, period, period)
    cache = caches["default"]  # looked up per call: tests swap CACHES and key prefixes
    if isinstance(cache, RedisCache):
        return _check_redis(cache, cache.make_key(key), limit=limit, period=period)
    with _local_lock:
        stored = cache.get(key)
        tat = stored if isinstance(stored, float) else None  # ignore an old DRF history list
        new_tat, decision = gcra(tat, now - EPOCH, limit=limit, period=period)
        if decision.allowed:
            cache.set(key, new_tat, timeout=max(1, math.ceil(decision.reset)))
    return decision


def _check_redis(cache: RedisCache, key: str, *, limit: int, period: float) -> Decision:
    # The cache's own client and pool (the write server). Django builds a redis.Redis per
    # operation, which costs more than the round trip here: keep one on the cache instance,
    # which Django already keeps per thread and replaces when CACHES changes.
    client = cache.__dict__.get("_gcra_client")
    if client is None:
        # RedisCache._cache (Django's RedisCacheClient) is private: django-stubs leave it out.
        redis_client = cache._cache  # type: ignore[attr-defined]
        client = cache.__dict__["_gcra_client"] = redis_client.get_client(key, write=True)
    args = (1, key, limit, round(period * 1000), EPOCH)
    try:
        allowed, remaining, retry_ms, reset_ms = client.evalsha(GCRA_SHA, *args)
    except NoScriptError:  # first call on this server (or after SCRIPT FLUSH): EVAL caches it
        allowed, remaining, retry_ms, reset_ms = client.eval(GCRA_LUA, *args)
    return Decision(bool(allowed), limit, int(remaining), retry_ms / 1000, reset_ms / 1000)


class GcraThrottle(throttling.SimpleRateThrottle):
    """SimpleRateThrottle's interface (rate, scope, cache key) with GCRA underneath.

    Also publishes RateLimit-Limit / -Remaining / -Reset (IETF httpapi draft) for the tightest
    limit that applied, through the view's response headers: no extra round trip.
    """

    # Not DRF's "throttle_...": those keys hold pickled lists, and old and new code may run
    # side by side during a deploy.
    cache_format = "gcra_%(scope)s_%(ident)s"
    retry_after: float | None = None
    # Set by SimpleRateThrottle.__init__ (parse_rate) whenever `rate` is; not in the stubs.
    num_requests: int
    duration: int

    def allow_request(self, request, view) -> bool:
        self.retry_after = None
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        try:
            decision = check_rate(
                key, limit=self.num_requests, period=self.duration, now=self.timer()
            )
        except CACHE_ERRORS as exc:
            logger.warning("throttle cache unavailable, allowing the request: %s", exc)
            return True
        _publish(view, decision)
        if decision.allowed:
            return True
        self.retry_after = decision.retry_after
        return False

    def wait(self) -> float | None:
        return self.retry_after


def _publish(view, decision: Decision) -> None:
    headers = getattr(view, "headers", None)  # APIView.finalize_response copies these
    if not isinstance(headers, dict):
        return
    shown = headers.get("RateLimit-Remaining")
    if shown is not None and int(shown) <= decision.remaining:
        return
    headers["RateLimit-Limit"] = str(decision.limit)
    headers["RateLimit-Remaining"] = str(decision.remaining)
    headers["RateLimit-Reset"] = str(max(1, math.ceil(decision.reset)))


# DRF's classes first: they pick the scope and the key, then call GcraThrottle.allow_request.
class AnonRateThrottle(throttling.AnonRateThrottle, GcraThrottle):
    pass


class UserRateThrottle(throttling.UserRateThrottle, GcraThrottle):
    pass


class ScopedRateThrottle(throttling.ScopedRateThrottle, GcraThrottle):
    pass
