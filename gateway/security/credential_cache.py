"""Remembers credentials bcrypt has already accepted, briefly and safely.

bcrypt on every payment would cap the switch at a few dozen requests per
second per core. A verified credential is kept in memory, keyed by an
HMAC of (app_id, username, password) under the server's secret — never
the password — and bound to the password hash it was checked against, so
a rotation (new hash) invalidates it at once.
"""

import hashlib
import hmac
import threading
import time


class CredentialCache:
    """Thread-safe map of HMAC(credential) → (password hash, expiry)."""

    def __init__(self, secret_key, ttl_seconds=300, max_entries=100_000):
        self._key = hashlib.sha256(("credential-cache:" + secret_key).encode()).digest()
        self._ttl = ttl_seconds
        self._max = max_entries
        self._entries = {}
        self._lock = threading.Lock()

    def _fingerprint(self, app_id, username, password):
        message = "\x00".join((app_id, username, password)).encode()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def is_verified(self, app_id, username, password, password_hash):
        """True when this exact credential was verified against ``password_hash`` recently."""
        entry = self._entries.get(self._fingerprint(app_id, username, password))
        return entry is not None and entry[0] == password_hash and entry[1] > time.monotonic()

    def remember(self, app_id, username, password, password_hash):
        """Record a credential bcrypt just accepted."""
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()  # crude but bounded; hot entries come back at once
            expiry = time.monotonic() + self._ttl
            self._entries[self._fingerprint(app_id, username, password)] = (password_hash, expiry)

    def clear(self):
        """Forget everything (used when credentials change)."""
        with self._lock:
            self._entries.clear()
