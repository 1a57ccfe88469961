"""The one portal blueprint; view modules under ``views/`` attach their routes to it."""

from functools import wraps

from flask import Blueprint, redirect, request, url_for
from flask_login import current_user

from gateway.admin.roles import FUNCTION_ROLES, ROLES, WRITE_ROLES
from gateway.errors import Forbidden
from gateway.portal.extensions import csrf

bp = Blueprint("portal", __name__, url_prefix="/portal")

PUBLIC_ENDPOINTS = {"portal.login", "portal.pygments_css", "portal.second_factor"}
PASSWORD_CHANGE_ENDPOINTS = {"portal.password", "portal.logout"}
ENROLMENT_ENDPOINTS = {"portal.two_factor_page", "portal.logout"}


@bp.before_request
def _guard():
    """CSRF on every POST, sign-in on every page, the forced password change first."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("portal.login", next=request.full_path if request.method == "GET" else None))
    if current_user.must_change_password and request.endpoint not in PASSWORD_CHANGE_ENDPOINTS:
        return redirect(url_for("portal.password"))
    if current_user.must_enrol and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("portal.two_factor_page"))
    return None


def roles_required(*roles):
    """Refuse (403) a signed-in user whose role is not one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if current_user.role not in roles:
                raise Forbidden(f"The {current_user.role} role may not do this.")
            return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.app_context_processor
def _permissions():
    def can(what):
        """Whether the signed-in user may do ``what`` ("write" or "functions")."""
        if not current_user.is_authenticated:
            return False
        return current_user.role in {"write": WRITE_ROLES, "functions": FUNCTION_ROLES}[what]
    return {"can": can, "roles": ROLES}
