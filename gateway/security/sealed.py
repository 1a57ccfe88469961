"""Secrets the switch must be able to use again (signing keys), sealed at rest.

A password is hashed because the switch only compares it; a callback signing
secret is sealed (Fernet: AES-128-CBC + HMAC-SHA256) because the switch must
sign or verify with it later. The key is derived from ``MOSPAY_SEAL_KEY``
(default: ``SECRET_KEY``); keep it when rotating ``SECRET_KEY``.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken


class Sealer:
    """Seals and opens short secrets with a key derived from ``key``."""

    def __init__(self, key):
        digest = hashlib.sha256(b"mospay sealed secrets\x00" + key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, secret):
        """The sealed text of ``secret`` (safe to store)."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed):
        """The secret, or ``None`` when ``sealed`` was not sealed with this key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError, AttributeError):
            return None


def new_signing_secret():
    """A fresh callback signing secret (prefixed so it is recognisable in a client's config)."""
    return "whsec_" + secrets.token_urlsafe(32)


def hmac_sha256_hex(secret, message):
    """Hex HMAC-SHA256 of ``message`` (bytes) with ``secret``."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_matches(secret, message, presented):
    """True when ``presented`` (hex, optionally ``sha256=``-prefixed) is the HMAC of ``message``."""
    if not presented:
        return False
    presented = presented.strip()
    if presented[:7].lower() == "sha256=":
        presented = presented[7:]
    return hmac.compare_digest(hmac_sha256_hex(secret, message), presented.lower())
