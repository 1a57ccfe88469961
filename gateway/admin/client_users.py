"""Client users: people of an integrator who sign in to the client portal (``/client/``).

An admin invites an e-mail address for a client app (admin API, admin portal or CLI); the answer holds an
invitation link, shown once (only its hash is stored), valid ``MOSPAY_CLIENT_INVITATION_HOURS``. Opening it,
the person chooses a password (bcrypt) and is signed in. A client user sees only their own client app:
every read goes through ``gateway/admin/client_scope.py`` with the ``ClientUser`` here.
"""

import hashlib
import logging
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from gateway.admin import schemas as admin_schemas
from gateway.db import Q
from gateway.errors import AlreadyExists, NotFound, Unauthorized
from gateway.hot_path.fields import validate_message
from gateway.security import totp
from gateway.security.passwords import hash_password, verify_password

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class ClientUser:
    """A signed-in client user: who, and the one client app they may see."""

    id: int
    email: str
    client_id: int
    app_id: str
    client_name: str
    password_version: int

    @classmethod
    def from_row(cls, row):
        return cls(row["id"], row["email"], row["client_id"], row["app_id"], row["client_name"],
                   row["password_version"])

    @property
    def actor(self):
        """How the audit log names this person."""
        return f"client:{self.email}"


def _token_hash(token):
    return hashlib.sha256((token or "").encode()).hexdigest()


def invite(rt, app_id, payload, actor):
    """Invite ``payload["email"]`` to ``app_id``'s portal: the link, once. Inviting someone of this client again
    is their password reset (the old password and sessions stop; the new link sets a new one)."""
    validate_message(admin_schemas.CLIENT_USER_INVITE, payload)
    email, token = payload["email"].strip(), totp.random_token()
    params = {"app_id": app_id, "email": email, "invitation_hash": _token_hash(token),
              "hours": rt.config.CLIENT_INVITATION_HOURS, "invited_by": actor}
    with rt.db.transaction() as conn:
        if conn.execute(Q.get_client, {"app_id": app_id}).fetchone() is None:
            raise NotFound(f"No client with app_id {app_id!r}.")
        row = conn.execute(Q.insert_client_user, params).fetchone() or conn.execute(
            Q.reinvite_client_user, params).fetchone()
        if row is None:
            raise AlreadyExists(f"{email} already has a client portal account.")
        conn.execute(Q.insert_audit, {"actor": actor, "action": "client_user.invite", "target": app_id,
                                      "before": None, "after": Jsonb({"email": email})})
    return {"app_id": app_id, "email": row["email"], "invitation_path": f"/client/invitation/{token}",
            "expires_at": row["invitation_expires_at"].isoformat()}


def list_users(rt, app_id):
    """The client app's portal users (no hashes)."""
    return rt.db.fetch_all(Q.list_client_users, {"app_id": app_id})


def invitation(rt, token):
    """The open invitation ``token`` names (``{"email", "app_id", "client_name"}``), or ``NotFound``."""
    row = rt.db.fetch_one(Q.find_invitation, {"invitation_hash": _token_hash(token)})
    if row is None:
        raise NotFound("This invitation link is not valid (used, expired or mistyped): ask for a new one.")
    return row


def accept(rt, token, payload):
    """Set the invited person's password (once per link); the signed-in ``ClientUser``."""
    validate_message(admin_schemas.CLIENT_USER_PASSWORD, payload)
    with rt.db.transaction() as conn:
        row = conn.execute(Q.accept_invitation, {"invitation_hash": _token_hash(token), "password_hash": hash_password(
            payload["password"], rt.config.BCRYPT_ROUNDS)}).fetchone()
        if row is None:
            raise NotFound("This invitation link is not valid (used, expired or mistyped): ask for a new one.")
        user = conn.execute(Q.find_client_user_by_id, {"id": row["id"]}).fetchone()
        conn.execute(Q.insert_audit, {"actor": f"client:{user['email']}", "action": "client_user.accept",
                                      "target": user["app_id"], "before": None, "after": None})
    return ClientUser.from_row(user)


def authenticate(rt, email, password):
    """The active client user with these credentials (of an active client), or ``Unauthorized``."""
    row = rt.db.fetch_one(Q.find_client_user_by_email, {"email": (email or "").strip()})
    if row is None or not row["password_hash"] or not verify_password(password, row["password_hash"]):
        raise Unauthorized("Wrong e-mail or password.")
    if not (row["active"] and row["client_active"]):
        raise Unauthorized("Wrong e-mail or password.")
    return ClientUser.from_row(row)


def record_sign_in(rt, user):
    """Remember when ``user`` last signed in (shown to the admins)."""
    with rt.db.transaction() as conn:
        conn.execute(Q.client_user_signed_in, {"id": user.id})


def signed_in_user(rt, user_id, password_version):
    """The active client user ``user_id`` whose password is still ``password_version``, else ``None``."""
    row = rt.db.fetch_one(Q.find_client_user_by_id, {"id": user_id})
    if row is None or not (row["active"] and row["client_active"]) or row["password_version"] != password_version:
        return None
    return ClientUser.from_row(row)


def set_active(rt, app_id, user_id, active, actor):
    """Deactivate (or reactivate) a client user of ``app_id``: their session ends on its next request."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.set_client_user_active, {"app_id": app_id, "id": user_id, "active": active}).fetchone()
        if row is None:
            raise NotFound(f"No portal user {user_id} of client {app_id!r}.")
        conn.execute(Q.insert_audit, {"actor": actor, "action": "client_user.update", "target": app_id,
                                      "before": None, "after": Jsonb({"email": row["email"], "active": active})})
    return row

