"""The client portal's blueprint: the signed-in client user in ``g.client_user``, CSRF, HTML errors."""

import logging

from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFError

from gateway.admin import client_users
from gateway.errors import MosPayError
from gateway.portal.extensions import csrf
from gateway.runtime import runtime

log = logging.getLogger(__name__)
bp = Blueprint("client_portal", __name__, url_prefix="/client")

SESSION_KEY = "client_user"          # "<id>:<password version>": a password change signs other sessions out
PENDING_KEY = "client_second_factor"  # the same, between the password and the second factor
PUBLIC_ENDPOINTS = {"client_portal.login", "client_portal.second_factor", "client_portal.invitation"}


def session_id(user):
    """What the session holds for ``user``."""
    return f"{user.id}:{user.password_version}"


def load(key=SESSION_KEY):
    """The client user the session's ``key`` names, still active with the same password, or ``None``."""
    user_id, _, version = str(session.get(key, "")).partition(":")
    if not (user_id.isdigit() and version.isdigit()):
        return None
    return client_users.signed_in_user(runtime(), int(user_id), int(version))


@bp.before_request
def _guard():
    """CSRF on every POST; every page but sign-in needs a signed-in client user."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    g.client_user = load()
    if request.endpoint in PUBLIC_ENDPOINTS or g.client_user is not None:
        return None
    return redirect(url_for("client_portal.login", next=request.full_path if request.method == "GET" else None))


@bp.context_processor
def _me():
    return {"me": g.get("client_user")}


def error_page(status, title, message):
    """The client portal's HTML error page."""
    return render_template("client/error.html", status=status, title=title, message=message), status


@bp.errorhandler(CSRFError)
def _csrf(error):
    return error_page(400, "Form expired", "The form's security token is missing or invalid. "
                                           "Go back, reload the page and try again.")


@bp.errorhandler(MosPayError)
def _mospay(error):
    if error.status >= 500:
        log.error("%s: %s", error.code, error.message)
    return error_page(error.status, error.code.replace("_", " ").capitalize(), error.message)


@bp.errorhandler(Exception)
def _unexpected(exc):
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 400 <= code < 500:  # Werkzeug's own (404, 405…)
        return error_page(code, getattr(exc, "name", "Error"), getattr(exc, "description", ""))
    log.exception("unexpected client portal error")
    return error_page(500, "Something went wrong", "The portal could not complete the request.")
