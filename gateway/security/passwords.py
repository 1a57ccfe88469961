"""bcrypt hashing and generation of credentials."""

import secrets

import bcrypt

# bcrypt only reads the first 72 bytes; longer inputs are refused, not truncated.
MAX_PASSWORD_BYTES = 72


def hash_password(password, rounds=12):
    """bcrypt hash of ``password`` as text.

    Raises ``ValueError`` past 72 bytes: the request schemas (``x-max-bytes``) refuse such a password first
    with a 400 naming the limit; this is the backstop for settings such as ``MOSPAY_ADMIN_PASSWORD``.
    """
    encoded = password.encode()
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValueError(f"a password must be at most {MAX_PASSWORD_BYTES} bytes in UTF-8 (bcrypt's limit)")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds)).decode()


def verify_password(password, password_hash):
    """True when ``password`` matches; never raises on garbage input."""
    encoded = password.encode()
    if not encoded or len(encoded) > MAX_PASSWORD_BYTES:
        return False
    try:
        return bcrypt.checkpw(encoded, password_hash.encode())
    except ValueError:
        return False


def generate_secret(length=32):
    """A random URL-safe secret for client passwords."""
    return secrets.token_urlsafe(length)[:length]
