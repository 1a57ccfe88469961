"""JWTs for integrators (audience = App-ID) and for the admin API.

The algorithm is pinned to HS256, every token expires, and each carries
the credential (or password) version it was issued for, so a rotation
invalidates outstanding tokens.
"""

import time

import jwt

ALGORITHM = "HS256"
ADMIN_AUDIENCE = "mospay-admin"


def issue(secret, subject, audience, version, ttl_seconds, **claims):
    """Signed token for ``subject`` valid ``ttl_seconds``."""
    now = int(time.time())
    payload = {"sub": subject, "aud": audience, "ver": version, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


def decode(secret, token, audience):
    """Claims of a valid token, or ``None`` when it is invalid, expired or for another audience."""
    try:
        return jwt.decode(
            token, secret, algorithms=[ALGORITHM], audience=audience,
            options={"require": ["sub", "aud", "exp", "iat", "ver"]},
        )
    except jwt.PyJWTError:
        return None
