"""TOTP (RFC 6238, through ``pyotp``) and recovery codes: the pure parts of two-factor sign-in.

The secret is shown once at enrolment (as text and as an ``otpauth://`` URI an authenticator app takes; no QR
code, so nothing is drawn by a third party) and stored sealed. A code is accepted in the current 30-second
step or the one before or after (clock drift); the caller records the step it matched so the same code is
never accepted twice. Recovery codes are 80 random bits each, shown once, stored as SHA-256 hashes.
"""

import datetime as dt
import hashlib
import hmac
import re
import secrets

import pyotp

ISSUER = "MosPay"
RECOVERY_CODES = 10
_CODE = re.compile(r"^[0-9]{6}$")
_RECOVERY = re.compile(r"^[a-z2-7]{16}$")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"


def new_secret():
    """A fresh base32 TOTP secret (160 bits)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret, account):
    """The ``otpauth://totp/…`` URI of ``secret`` for ``account`` (what a QR code would carry)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=ISSUER)


def matching_step(secret, code, now=None):
    """The time step (an integer) whose code is ``code`` (this step ± 1), or ``None``."""
    code = (code or "").strip().replace(" ", "")
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret)
    now = now or dt.datetime.now(dt.UTC)
    for offset in (0, -1, 1):
        at = now + dt.timedelta(seconds=offset * totp.interval)
        if hmac.compare_digest(totp.at(at), code):
            return totp.timecode(at)
    return None


def new_recovery_codes(count=RECOVERY_CODES):
    """``count`` fresh recovery codes, shown as ``xxxx-xxxx-xxxx-xxxx`` (base32, 80 bits)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_BASE32) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def recovery_hash(code):
    """The stored form of a recovery code (dashes, spaces and case ignored), or ``None`` when it is not one."""
    normalised = (code or "").strip().lower().replace("-", "").replace(" ", "")
    if not _RECOVERY.match(normalised):
        return None
    return hashlib.sha256(normalised.encode()).hexdigest()


def current_code(secret):
    """The code of ``secret`` now: for tests and the CLI, never shown by the switch."""
    return pyotp.TOTP(secret).now()


def random_token():
    """An unguessable URL token (invitation links)."""
    return secrets.token_urlsafe(32)
