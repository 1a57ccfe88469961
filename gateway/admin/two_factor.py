"""TOTP two-factor sign-in for portal users (admins, DBAs, viewers) and client users.

The same steps for both kinds of account (``USER``, ``CLIENT_USER``: one named query each per table):
``begin`` makes a secret (sealed at rest) shown once with its ``otpauth://`` URI; ``confirm`` checks a first
code from the authenticator and answers ten recovery codes, shown once, stored hashed; ``check`` accepts a
code at sign-in (each code once) or spends a recovery code. ``required`` says whether configuration makes it
mandatory (``MOSPAY_REQUIRE_TOTP``; admins and DBAs of the switch, who can move money).
"""

from dataclasses import dataclass

from gateway.db import Q
from gateway.errors import Conflict, NotFound, TwoFactorEnrolmentRequired, TwoFactorRequired, ValidationFailed
from gateway.security import totp

# Roles of the switch's own users the requirement applies to (viewers may enrol, but need not).
REQUIRED_ROLES = frozenset({"admin", "dba"})


@dataclass(frozen=True)
class Kind:
    """Which table an account lives in: the names of its queries."""

    name: str

    def query(self, step):
        return getattr(Q, f"totp_{step}_{self.name}")


USER, CLIENT_USER = Kind("user"), Kind("client_user")


@dataclass(frozen=True)
class Enrolment:
    """A pending enrolment: the secret and the URI to put in an authenticator, shown once."""

    secret: str
    uri: str


def state(rt, kind, account_id):
    """``{"enabled": bool, "recovery_left": n}`` of an account."""
    row = rt.db.fetch_one(kind.query("state"), {"id": account_id})
    return {"enabled": bool(row and row["totp_confirmed_at"]), "recovery_left": row["recovery_left"] if row else 0}


def enabled(rt, kind, account_id):
    """Whether the account signs in with a second factor."""
    return state(rt, kind, account_id)["enabled"]


def required(rt, role=None):
    """Whether configuration requires a second factor of an account with ``role`` (``None``: a client user)."""
    return bool(rt.config.REQUIRE_TOTP) and (role is None or role in REQUIRED_ROLES)


def begin(rt, kind, account_id, account_name):
    """A new pending secret (replacing an unconfirmed one); ``Conflict`` when two-factor is already on."""
    secret = totp.new_secret()
    with rt.db.transaction() as conn:
        if conn.execute(kind.query("begin"), {"id": account_id, "sealed": rt.sealer.seal(secret)}).fetchone() is None:
            raise Conflict("Two-factor sign-in is already on for this account.")
    return Enrolment(secret, totp.provisioning_uri(secret, account_name))


def confirm(rt, kind, account_id, code):
    """Turn two-factor on once ``code`` matches the pending secret; the recovery codes, shown this once."""
    row = rt.db.fetch_one(kind.query("state"), {"id": account_id})
    if row is None or row["totp_confirmed_at"] is not None or row["totp_secret_sealed"] is None:
        raise Conflict("There is no pending two-factor enrolment: start again.")
    secret = rt.sealer.open(row["totp_secret_sealed"])
    step = totp.matching_step(secret, code) if secret else None
    if step is None:
        raise ValidationFailed(details={"code": "is not the current code of this secret"})
    codes = totp.new_recovery_codes()
    with rt.db.transaction() as conn:
        confirmed = conn.execute(kind.query("confirm"), {
            "id": account_id, "step": step, "sealed": row["totp_secret_sealed"],
            "recovery_hashes": [totp.recovery_hash(c) for c in codes]}).fetchone()
    if confirmed is None:  # a concurrent enrolment replaced the secret meanwhile
        raise Conflict("The enrolment changed meanwhile: start again.")
    return codes


def check(rt, kind, account_id, code):
    """Accept a TOTP code (once) or a recovery code (spent) of an account with two-factor on; else
    ``TwoFactorRequired``. Returns ``"totp"`` or ``"recovery"``."""
    row = rt.db.fetch_one(kind.query("state"), {"id": account_id})
    secret = rt.sealer.open(row["totp_secret_sealed"]) if row and row["totp_confirmed_at"] else None
    if secret is None:
        raise TwoFactorRequired()
    step = totp.matching_step(secret, code)
    with rt.db.transaction() as conn:
        if step is not None and conn.execute(kind.query("use_step"), {"id": account_id, "step": step}).fetchone():
            return "totp"
        hashed = totp.recovery_hash(code)
        if hashed and conn.execute(kind.query("spend_recovery"), {"id": account_id, "hash": hashed}).fetchone():
            return "recovery"
    raise TwoFactorRequired("Wrong or already used code.")


def reset(rt, kind, account_id, actor, target):
    """Turn two-factor off (an admin's reset of a lost authenticator), in the audit log."""
    with rt.db.transaction() as conn:
        conn.execute(kind.query("reset"), {"id": account_id})
        conn.execute(Q.insert_audit, {"actor": actor, "action": f"{kind.name}.two_factor_reset", "target": target,
                                      "before": None, "after": None})


def reset_user(rt, username, actor):
    """Turn two-factor off for the switch's user ``username`` (admin API, portal, CLI); ``NotFound`` if none."""
    row = rt.db.fetch_one(Q.find_user, {"username": username})
    if row is None:
        raise NotFound(f"No user named {username!r}.")
    reset(rt, USER, row["id"], actor, username)
    return {"username": username, "two_factor": False}


def gate(rt, kind, account_id, role, code):
    """The sign-in check after the password: a valid code when two-factor is on (``TwoFactorRequired``
    otherwise), ``TwoFactorEnrolmentRequired`` when configuration requires it and it is not on yet."""
    if enabled(rt, kind, account_id):
        return check(rt, kind, account_id, code)
    if required(rt, role):
        raise TwoFactorEnrolmentRequired()
    return None
