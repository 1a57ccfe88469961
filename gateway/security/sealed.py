"""Secrets the switch must be able to use again (signing keys), sealed at rest.

A password is hashed because the switch only compares it; a callback signing
secret or a provider credential is sealed (Fernet: AES-128-CBC + HMAC-SHA256)
because the switch must use it later. Keys come from ``MOSPAY_SEAL_KEYS``
(comma-separated, newest first; default ``MOSPAY_SEAL_KEY``, else ``SECRET_KEY``):
the newest seals, every one opens (``MultiFernet``), so a key is rotated by
putting the new one first, re-sealing (``flask credentials reseal``) and then
dropping the old one.
"""

import base64
import hashlib
import hmac
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


def _fernet(key):
    digest = hashlib.sha256(b"mospay sealed secrets\x00" + key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


class Sealer:
    """Seals with the first of ``keys`` (a key, or keys newest first) and opens with any of them."""

    def __init__(self, keys):
        keys = [keys] if isinstance(keys, str) else [key for key in keys if key]
        if not keys:
            raise ValueError("a Sealer needs at least one key")
        self._fernet = MultiFernet([_fernet(key) for key in keys])

    def seal(self, secret):
        """The sealed text of ``secret`` (safe to store)."""
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed):
        """The secret, or ``None`` when ``sealed`` was not sealed with this key."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except (InvalidToken, ValueError, AttributeError):
            return None

    def reseal(self, sealed):
        """``sealed`` sealed again under the newest key, or ``None`` when no key opens it."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
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
