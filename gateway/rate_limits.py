"""Abuse limits: per-client request rates and lockout after repeated bad credentials.

Backed by the ``limits`` library: in memory per process by default, or in
Redis (shared by every instance) when ``REDIS_URL`` is set. A client is
limited after it authenticates, so nobody can spend another client's
quota by naming its App-ID; failed sign-ins are counted per (name, IP) so
an attacker cannot lock a legitimate client out from elsewhere.
"""

import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

from gateway.errors import RateLimited, TooManyAttempts


class AbuseLimits:
    """Client rate limits and sign-in lockout."""

    def __init__(self, storage_url, client_rate, failure_limit):
        storage = storage_from_string(storage_url)
        self._rates = MovingWindowRateLimiter(storage)
        self._failures = FixedWindowRateLimiter(storage)
        self._client_rate = parse(client_rate)
        self._failure_limit = parse(failure_limit)

    def check_client(self, app_id):
        """Count one request of ``app_id``; ``RateLimited`` when over its rate."""
        if not self._rates.hit(self._client_rate, "client", app_id):
            reset = self._rates.get_window_stats(self._client_rate, "client", app_id).reset_time
            raise RateLimited(headers={"Retry-After": str(max(1, int(reset - time.time()) + 1))})

    def check_not_locked(self, kind, name, address):
        """``TooManyAttempts`` while ``name`` from ``address`` is locked out."""
        if not self._failures.test(self._failure_limit, kind, name, address or "-"):
            reset = self._failures.get_window_stats(self._failure_limit, kind, name, address or "-").reset_time
            raise TooManyAttempts(headers={"Retry-After": str(max(1, int(reset - time.time()) + 1))})

    def record_failure(self, kind, name, address):
        """Count a failed sign-in of ``name`` from ``address``."""
        self._failures.hit(self._failure_limit, kind, name, address or "-")
