"""Abuse limits: per-client request rates and lockout after repeated bad credentials.

In memory per process by default (a lock-protected fixed-window counter:
a few microseconds on the hot path), or in Redis, shared by every worker
and instance, through the ``limits`` library when ``REDIS_URL`` is set;
the portal's sign-in throttle uses the same store. A client is limited
after it authenticates, so nobody can spend another client's quota by
naming its App-ID.

Failed sign-ins are counted per (name, real client address: see
``MOSPAY_TRUSTED_PROXIES``), so nobody locks a client out from elsewhere,
and per presented credential (a keyed hash, never the secret): the
(name, address) lock counts *distinct* wrong credentials, while one wrong
credential sent again and again (a server still holding the secret from
before a rotation) locks only itself. So a stale secret never locks out
the new one, and a guesser is stopped after a few guesses either way.
"""

import hashlib
import hmac
import secrets
import threading
import time

from limits import RateLimitItemPerSecond, parse
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

    def clear(self, item, *keys):
        with self._lock:
            self._counts.pop(self._window(item, keys)[0], None)

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

    def clear(self, item, *keys):
        self._limiter.clear(item, *keys)


class AbuseLimits:
    """Client rate limits and sign-in lockout (``kind``: "client", "user" of the admin API, "portal")."""

    def __init__(self, storage_url, client_rate, failure_limit, key=None, failure_limits=None):
        self._windows = _MemoryWindows() if storage_url.startswith("memory://") else _SharedWindows(storage_url)
        self._client_rate = parse(client_rate)
        self._failure_limit = parse(failure_limit)
        self._failure_limits = {kind: parse(limit) for kind, limit in (failure_limits or {}).items()}
        # Keys the credential fingerprints, so the store (Redis) never holds anything a guesser could test offline.
        self._key = (key or secrets.token_hex(32)).encode()

    def _retry_after(self, item, *keys):
        return {"Retry-After": str(max(1, int(self._windows.reset_time(item, *keys) - time.time()) + 1))}

    def check_client(self, app_id):
        """Count one request of ``app_id``; ``RateLimited`` when over its rate."""
        if not self._windows.hit(self._client_rate, "client", app_id):
            raise RateLimited(headers=self._retry_after(self._client_rate, "client", app_id))

    def _limit(self, kind):
        return self._failure_limits.get(kind, self._failure_limit)

    def _fingerprint(self, name, credential):
        return hmac.new(self._key, f"{name}\x00{credential}".encode(), hashlib.sha256).hexdigest()[:32]

    def _counters(self, kind, name, address, credential):
        """The counters a sign-in attempt is judged by: (name, address) and, with a credential, that credential."""
        counters = [(kind, name, address or "-")]
        if credential is not None:
            counters.append(("credential", kind, name, address or "-", self._fingerprint(name, credential)))
        return counters

    def locked_for(self, kind, name, address, credential=None):
        """Seconds until ``name`` may try again from ``address`` with ``credential`` (0: not locked)."""
        item = self._limit(kind)
        for keys in self._counters(kind, name, address, credential):
            if not self._windows.test(item, *keys):
                return max(1, int(self._windows.reset_time(item, *keys) - time.time()) + 1)
        return 0

    def check_not_locked(self, kind, name, address, credential=None):
        """``TooManyAttempts`` while ``name`` from ``address`` (or this ``credential`` of it) is locked out."""
        wait = self.locked_for(kind, name, address, credential)
        if wait:
            raise TooManyAttempts(headers={"Retry-After": str(wait)})

    def record_failure(self, kind, name, address, credential=None):
        """Count a failed sign-in of ``name`` from ``address``; a repeated wrong credential counts once for the name."""
        item = self._limit(kind)
        name_keys, *credential_keys = self._counters(kind, name, address, credential)
        if credential_keys:
            self._windows.hit(item, *credential_keys[0])
            seen = RateLimitItemPerSecond(1, item.get_expiry())
            if not self._windows.hit(seen, "seen", *credential_keys[0]):
                return  # this wrong credential was counted for the name already in this window
        self._windows.hit(item, *name_keys)

    def forget_failures(self, kind, name, address):
        """After a successful sign-in: the (name, address) count starts again."""
        self._windows.clear(self._limit(kind), kind, name, address or "-")
