"""DRF throttles that fail open: Redis is a cache and may be lost without the API failing.

Losing rate limits for a while is better than answering every request with a 500.
"""

import logging

from redis.exceptions import RedisError
from rest_framework import throttling

logger = logging.getLogger("ledgerflow.throttling")
CACHE_ERRORS = (RedisError, ConnectionError, TimeoutError, OSError)


class FailOpen:
    def allow_request(self, request, view) -> bool:
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.warning("throttle cache unavailable, allowing the request: %s", exc)
            return True


class AnonRateThrottle(FailOpen, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpen, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpen, throttling.ScopedRateThrottle):
    pass
