"""Portal and admin-API users: the seeded admin, sign-in, password changes."""

import logging
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from gateway.admin import schemas as admin_schemas
from gateway.admin.roles import ROLES  # noqa: F401  (re-exported: gateway.openapi documents them)
from gateway.db import Q
from gateway.errors import (
    AlreadyExists,
    BadRequest,
    Conflict,
    NotFound,
    PasswordChangeRequired,
    Unauthorized,
    ValidationFailed,
)
from gateway.hot_path.fields import validate_message
from gateway.security import tokens
from gateway.security.passwords import hash_password, verify_password

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class User:
    """A signed-in portal or admin-API user."""

    id: int
    username: str
    role: str
    must_change_password: bool
    password_version: int
    two_factor: bool = False  # TOTP sign-in is on (gateway/admin/two_factor.py)

    @classmethod
    def from_row(cls, row):
        return cls(row["id"], row["username"], row["role"], row["must_change_password"], row["password_version"],
                   bool(row.get("two_factor")))


def ensure_initial_admin(rt):
    """Create ``admin`` (must change password) when there are no users yet."""
    with rt.db.transaction() as conn:
        if conn.execute(Q.count_users).fetchone()["n"]:
            return False
        conn.execute(Q.insert_user, {"username": "admin", "role": "admin", "must_change_password": True,
                                     "password_hash": hash_password(rt.config.ADMIN_PASSWORD, rt.config.BCRYPT_ROUNDS)})
    log.info("created the initial admin user 'admin' (password must be changed at first use)")
    return True


def create_user(rt, payload, actor):
    """Create a portal/admin-API user who must change the given password at first sign-in."""
    validate_message(admin_schemas.USER_CREATE, payload)
    with rt.db.transaction() as conn:
        row = conn.execute(Q.insert_user, {
            "username": payload["username"], "role": payload["role"], "must_change_password": True,
            "password_hash": hash_password(payload["password"], rt.config.BCRYPT_ROUNDS)}).fetchone()
        if row is None:
            raise AlreadyExists(f"A user named {payload['username']!r} already exists.")
        conn.execute(Q.insert_audit, {"actor": actor, "action": "user.create", "target": payload["username"],
                                      "before": None, "after": Jsonb({"role": payload["role"]})})
    return {"username": payload["username"], "role": payload["role"], "must_change_password": True}


def update_user(rt, username, payload, actor):
    """Change a user's role or deactivate/reactivate them; takes effect on their next request.

    Nobody changes their own account here (no locking yourself out), and the last active admin
    stays an active admin.
    """
    validate_message(admin_schemas.USER_UPDATE, payload)
    if username == actor:
        raise BadRequest("You cannot change your own role or deactivate yourself.", details={"username": username})
    with rt.db.transaction() as conn:
        before = conn.execute(Q.find_user, {"username": username}).fetchone()
        if before is None:
            raise NotFound(f"No user named {username!r}.")
        demoted = payload.get("role", before["role"]) != "admin" or payload.get("active") is False
        if before["role"] == "admin" and before["active"] and demoted \
                and not conn.execute(Q.count_other_active_admins, {"username": username}).fetchone()["n"]:
            raise Conflict("The last active admin must stay an active admin.")
        row = conn.execute(Q.update_user, {"username": username, "role": payload.get("role"),
                                           "active": payload.get("active")}).fetchone()
        conn.execute(Q.insert_audit, {"actor": actor, "action": "user.update", "target": username,
                                      "before": Jsonb({"role": before["role"], "active": before["active"]}),
                                      "after": Jsonb({"role": row["role"], "active": row["active"]})})
    return row


def list_users(rt):
    """Every user, without password hashes."""
    return rt.db.fetch_all(Q.list_users)


def authenticate(rt, username, password):
    """The active user with these credentials, or ``Unauthorized``."""
    row = rt.db.fetch_one(Q.find_user, {"username": username})
    if row is None or not row["active"] or not verify_password(password, row["password_hash"]):
        raise Unauthorized("Wrong username or password.")
    return User.from_row(row)


def issue_admin_token(rt, user):
    """A JWT for the admin API, invalidated when the password changes."""
    ttl = rt.config.JWT_TTL_SECONDS
    token = tokens.issue(rt.config.JWT_SECRET_KEY, str(user.id), tokens.ADMIN_AUDIENCE, user.password_version, ttl,
                         role=user.role)
    return {"access_token": token, "token_type": "Bearer", "expires_in": ttl,
            "must_change_password": user.must_change_password}


def user_from_token(rt, token, allow_password_change_pending=False):
    """The user an admin token belongs to, checked against the database."""
    claims = tokens.decode(rt.config.JWT_SECRET_KEY, token, tokens.ADMIN_AUDIENCE)
    if claims is None or not claims["sub"].isdigit():
        raise Unauthorized("A valid admin token is required.", headers={"WWW-Authenticate": "Bearer"})
    row = rt.db.fetch_one(Q.find_user_by_id, {"id": int(claims["sub"])})
    if row is None or not row["active"] or row["password_version"] != claims["ver"]:
        raise Unauthorized("A valid admin token is required.", headers={"WWW-Authenticate": "Bearer"})
    user = User.from_row(row)
    if user.must_change_password and not allow_password_change_pending:
        raise PasswordChangeRequired()
    return user


def change_password(rt, user, payload):
    """Change ``user``'s password after checking the current one."""
    validate_message(admin_schemas.PASSWORD_CHANGE, payload)
    row = rt.db.fetch_one(Q.find_user_by_id, {"id": user.id})
    if not verify_password(payload["current_password"], row["password_hash"]):
        raise ValidationFailed(details={"current_password": "is not your current password"})
    if payload["new_password"] == payload["current_password"]:
        raise BadRequest("The new password must differ from the current one.",
                         details={"new_password": "must differ from the current password"})
    with rt.db.transaction() as conn:
        conn.execute(Q.change_user_password, {"id": user.id, "password_hash": hash_password(
            payload["new_password"], rt.config.BCRYPT_ROUNDS)})
        conn.execute(Q.insert_audit, {"actor": user.username, "action": "user.change_password",
                                      "target": user.username, "before": None, "after": None})
    return {"changed": True}


def signed_in_user(rt, user_id, password_version):
    """The active user ``user_id`` if its password is still ``password_version`` (portal sessions), else ``None``."""
    row = rt.db.fetch_one(Q.find_user_by_id, {"id": user_id})
    if row is None or not row["active"] or row["password_version"] != password_version:
        return None
    return User.from_row(row)
