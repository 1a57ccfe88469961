"""Authenticates integrators: Basic + App-ID, or a Bearer JWT + App-ID.

Every failure is the same 401, so a caller learns nothing about which
part was wrong. bcrypt runs only when the credential cache has not seen
this exact credential against the client's current password hash.
"""

import base64
import binascii
import hmac

from gateway.errors import Unauthorized
from gateway.security import tokens
from gateway.security.passwords import verify_password

APP_ID_HEADERS = ("App-ID", "X-App-ID")


def app_id_from(headers):
    """The App-ID header (or the original MosPay's X-App-ID)."""
    for name in APP_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value.strip()
    raise Unauthorized("The App-ID header is required.")


def parse_basic(authorization):
    """``(username, password)`` from a Basic header, or ``None``."""
    if not authorization or not authorization[:6].lower() == "basic ":
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):  # ValueError: non-ASCII in the header
        return None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else None


def authenticate_client(rt, headers, remote_addr=None):
    """The active client these headers prove to be, within its rate; else 401 or 429."""
    app_id = app_id_from(headers)
    # Keyed by the presented credential too: a secret from before a rotation locks only itself, not the new one.
    credential = headers.get("Authorization", "")
    rt.limits.check_not_locked("client", app_id, remote_addr, credential)
    try:
        client = _verify(rt, app_id, headers)
    except Unauthorized:
        rt.limits.record_failure("client", app_id, remote_addr, credential)
        raise
    rt.limits.check_client(app_id)
    return client


def _verify(rt, app_id, headers):
    client = rt.registry.client(app_id)
    authorization = headers.get("Authorization", "")
    if client is None or not client.active:
        raise Unauthorized()
    if authorization[:7].lower() == "bearer ":
        claims = tokens.decode(rt.config.JWT_SECRET_KEY, authorization[7:].strip(), audience=app_id)
        if claims is None or claims["sub"] != client.username or claims["ver"] != client.credential_version:
            raise Unauthorized()
        return client
    credential = parse_basic(authorization)
    if credential is None:
        raise Unauthorized()
    username, password = credential
    if not hmac.compare_digest(username.encode(), client.username.encode()):
        raise Unauthorized()
    if rt.credentials.is_verified(app_id, username, password, client.password_hash):
        return client
    if not verify_password(password, client.password_hash):
        raise Unauthorized()
    rt.credentials.remember(app_id, username, password, client.password_hash)
    return client


def issue_client_token(rt, client):
    """A JWT for ``client`` (audience = its App-ID), invalidated by credential rotation."""
    ttl = rt.config.JWT_TTL_SECONDS
    token = tokens.issue(rt.config.JWT_SECRET_KEY, client.username, client.app_id, client.credential_version, ttl)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl}
