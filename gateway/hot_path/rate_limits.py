"""Abuse limits: per-client request rates and lockout after repeated bad credentials.

In memory per process by default (a lock-protected fixed-window counter:
a few microseconds on the hot path), or in Redis, shared by every worker
and instance, through the ``limits`` library when ``REDIS_URL`` is set. A
client is limited after it authenticates, so nobody can spend another
client's quota by naming its App-ID; failed sign-ins are counted per
(name, address) so an attacker cannot lock a legitimate client out from
elsewhere.
"""

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from gateway.errors import RateLimited, TooManyAttempts

MAX_MEMORY_KEYS = 200_000


class _MemoryWindows:
    """Fixed-window counters in this process: ``hit`` and ``test`` like ``limits``' strategies."""

    def __init__(self):
        self._counts = {}
        self._lock = threading.Lock()

    def _window(self, item, keys):
        seconds = item.get_expiry()
        start = int(time.time() // seconds * seconds)
        return (item.amount, seconds, start, *keys), start + seconds

    def hit(self, item, *keys):
        key, _ = self._window(item, keys)
        with self._lock:
            if len(self._counts) > MAX_MEMORY_KEYS:
                self._forget_old_windows()
            count = self._counts.get(key, 0)
            if count >= item.amount:
                return False
            self._counts[key] = count + 1
            return True

    def test(self, item, *keys):
        key, _ = self._window(item, keys)
        return self._counts.get(key, 0) < item.amount

    def reset_time(self, item, *keys):
        return self._window(item, keys)[1]

    def _forget_old_windows(self):
        now = time.time()
        self._counts = {k: v for k, v in self._counts.items() if k[2] + k[1] > now}


class _SharedWindows:
    """The same interface over ``limits`` (Redis), shared by every instance."""

    def __init__(self, storage_url):
        self._limiter = FixedWindowRateLimiter(storage_from_string(storage_url))

    def hit(self, item, *keys):
        return self._limiter.hit(item, *keys)

    def test(self, item, *keys):
        return self._limiter.test(item, *keys)

    def reset_time(self, item, *keys):
        return self._limiter.get_window_stats(item, *keys).reset_time


class AbuseLimits:
    """Client rate limits and sign-in lockout."""

    def __init__(self, storage_url, client_rate, failure_limit):
        self._windows = _MemoryWindows() if storage_url.startswith("memory://") else _SharedWindows(storage_url)
        self._client_rate = parse(client_rate)
        self._failure_limit = parse(failure_limit)

    def _retry_after(self, item, *keys):
        return {"Retry-After": str(max(1, int(self._windows.reset_time(item, *keys) - time.time()) + 1))}

    def check_client(self, app_id):
        """Count one request of ``app_id``; ``RateLimited`` when over its rate."""
        if not self._windows.hit(self._client_rate, "client", app_id):
            raise RateLimited(headers=self._retry_after(self._client_rate, "client", app_id))

    def check_not_locked(self, kind, name, address):
        """``TooManyAttempts`` while ``name`` from ``address`` is locked out."""
        if not self._windows.test(self._failure_limit, kind, name, address or "-"):
            raise TooManyAttempts(headers=self._retry_after(self._failure_limit, kind, name, address or "-"))

    def record_failure(self, kind, name, address):
        """Count a failed sign-in of ``name`` from ``address``."""
        self._windows.hit(self._failure_limit, kind, name, address or "-")
