"""Rate limits that survive an outage of the cache that counts them.

DRF's throttles count requests in the default cache, Redis in production.
When Redis is down, DRF 3.18 lets the cache's ConnectionError through and
every throttled view fails with a server error, so a Redis outage would
take pull-secret exports down with it. Here a throttle that cannot reach
its cache lets authenticated requests through and logs the outage once.
The password exchange gets a 429 instead, because without a counter
password guessing would be unlimited.
"""

import logging

from django.db import DatabaseError
from redis.exceptions import RedisError
from rest_framework import exceptions, throttling

logger = logging.getLogger(__name__)

# Errors of the Redis cache and of the database cache for an unavailable
# backend.
CACHE_ERRORS = (RedisError, DatabaseError, ConnectionError, TimeoutError)
# Scopes that reject requests, instead of allowing them, while the cache is
# unavailable, and the seconds after which the client may retry.
FAIL_CLOSED_SCOPES = frozenset({"auth-token"})
RETRY_SECONDS = 30


class ScopedRateThrottle(throttling.ScopedRateThrottle):
    """DRF's ScopedRateThrottle that tolerates a cache outage."""

    # Whether this process has logged the current outage already.
    outage_logged = False

    def allow_request(self, request, view):
        scope = getattr(view, self.scope_attr, None)
        try:
            allowed = super().allow_request(request, view)
        except CACHE_ERRORS as error:
            fail_closed = scope in FAIL_CLOSED_SCOPES
            self.log_outage(scope, error, fail_closed=fail_closed)
            if fail_closed:
                raise exceptions.Throttled(wait=RETRY_SECONDS) from None
            return True
        ScopedRateThrottle.outage_logged = False
        return allowed

    @staticmethod
    def log_outage(scope, error, *, fail_closed):
        if ScopedRateThrottle.outage_logged:
            return
        ScopedRateThrottle.outage_logged = True
        logger.warning(
            "The rate limit cache is unavailable (%r); throttle scope %s %s "
            "requests until it is back.",
            error,
            scope,
            "rejects" if fail_closed else "allows",
        )
