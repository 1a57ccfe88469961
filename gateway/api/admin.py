"""The admin API: JSON over Bearer tokens, on the onboarding service layer."""

from functools import wraps

from flask import Blueprint, Response, g, request

from gateway.admin import exports, onboarding, reports, two_factor, users
from gateway.admin import schemas as admin_schemas
from gateway.admin.roles import ROLES, WRITE_ROLES
from gateway.api import json_body, json_response
from gateway.errors import Forbidden, TwoFactorRequired, Unauthorized
from gateway.hot_path.client_auth import parse_basic
from gateway.hot_path.fields import validate_message
from gateway.runtime import runtime

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1/admin")


def _bearer():
    authorization = request.headers.get("Authorization", "")
    if authorization[:7].lower() != "bearer ":
        raise Unauthorized("A Bearer admin token is required: POST /api/v1/admin/token.",
                           headers={"WWW-Authenticate": "Bearer"})
    return authorization[7:].strip()


def admin_required(roles=ROLES, allow_password_change_pending=False):
    """Require a valid admin token of one of ``roles``; the user lands in ``g.user``."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.user = users.user_from_token(runtime(), _bearer(), allow_password_change_pending)
            if g.user.role not in roles:
                raise Forbidden(f"The {g.user.role} role may not do this.")
            return view(*args, **kwargs)
        return wrapper
    return decorator


@bp.post("/token")
def admin_token():
    """Exchange Basic credentials of a user for an admin token."""
    credential = parse_basic(request.headers.get("Authorization", ""))
    if credential is None:
        raise Unauthorized("Send Basic credentials of an admin user.")
    rt = runtime()
    # Keyed by the presented password too: an old one still in use after a change locks only itself.
    rt.limits.check_not_locked("user", credential[0], request.remote_addr, credential[1])
    try:
        user = users.authenticate(rt, *credential)
    except Unauthorized:
        rt.limits.record_failure("user", credential[0], request.remote_addr, credential[1])
        raise
    _second_factor(rt, user)
    return json_response(users.issue_admin_token(rt, user))


def _second_factor(rt, user):
    """The body's ``totp`` when the user signs in with two factors (or must: MOSPAY_REQUIRE_TOTP)."""
    body = json_body(required=False)
    validate_message(admin_schemas.TOKEN_REQUEST, body)
    name = f"{user.username}:totp"  # wrong codes lock like wrong passwords, on a counter of their own
    rt.limits.check_not_locked("user", name, request.remote_addr, body.get("totp"))
    try:
        two_factor.gate(rt, two_factor.USER, user.id, user.role, body.get("totp"))
    except TwoFactorRequired:
        if body.get("totp"):
            rt.limits.record_failure("user", name, request.remote_addr, body["totp"])
        raise


@bp.post("/password")
@admin_required(allow_password_change_pending=True)
def change_password():
    """Change the signed-in user's password (required first for the seeded admin)."""
    return json_response(users.change_password(runtime(), g.user, json_body()))


@bp.get("/clients")
@admin_required()
def list_clients():
    """Every client."""
    return json_response({"clients": onboarding.list_clients(runtime())})


@bp.post("/clients")
@admin_required(WRITE_ROLES)
def create_client():
    """Create a client; its password is in this answer only."""
    return json_response(onboarding.create_client(runtime(), json_body(), g.user.username), 201)


@bp.get("/clients/<app_id>")
@admin_required()
def get_client(app_id):
    """One client and its services."""
    return json_response(onboarding.get_client(runtime(), app_id))


@bp.post("/clients/<app_id>/credentials")
@admin_required(WRITE_ROLES)
def rotate_credentials(app_id):
    """New username and password; the old ones stop working now."""
    return json_response(onboarding.rotate_credentials(runtime(), app_id, g.user.username))


@bp.post("/clients/<app_id>/activate")
@admin_required(WRITE_ROLES)
def activate_client(app_id):
    """Let the client transact again."""
    return json_response(onboarding.set_client_active(runtime(), app_id, True, g.user.username))


@bp.post("/clients/<app_id>/deactivate")
@admin_required(WRITE_ROLES)
def deactivate_client(app_id):
    """Refuse the client's requests from now on."""
    return json_response(onboarding.set_client_active(runtime(), app_id, False, g.user.username))


@bp.post("/clients/<app_id>/services")
@admin_required(WRITE_ROLES)
def assign_service(app_id):
    """Assign a service: generates the client's two functions and route file."""
    return json_response(onboarding.assign_service(runtime(), app_id, json_body(), g.user.username), 201)


@bp.get("/services")
@admin_required()
def list_services():
    """Every service."""
    return json_response({"services": onboarding.list_services(runtime())})


@bp.post("/services")
@admin_required(WRITE_ROLES)
def create_service():
    """Register a microservice / service / route with its fields."""
    return json_response(onboarding.create_service(runtime(), json_body(), g.user.username), 201)


@bp.post("/clients/<app_id>/services/<microservice>/<service>/<route>/<any(enable, disable):action>")
@admin_required(WRITE_ROLES)
def set_route_enabled(app_id, microservice, service, route, action):
    """Enable or disable one of a client's routes."""
    key = {"microservice": microservice, "service": service, "route": route}
    return json_response(onboarding.set_route_enabled(runtime(), app_id, key, action == "enable", g.user.username))


@bp.get("/users")
@admin_required(WRITE_ROLES)
def list_users():
    """Every portal and admin-API user."""
    return json_response({"users": users.list_users(runtime())})


@bp.post("/users")
@admin_required(WRITE_ROLES)
def create_user():
    """Create a user (admin, dba or viewer) who must change the password at first sign-in."""
    return json_response(users.create_user(runtime(), json_body(), g.user.username), 201)


@bp.patch("/users/<username>")
@admin_required(WRITE_ROLES)
def update_user(username):
    """Change a user's role, or deactivate/reactivate them."""
    return json_response(users.update_user(runtime(), username, json_body(), g.user.username))


@bp.get("/reports/settlement")
@admin_required()
def settlement_report():
    """Per day × client × service × currency: counts and amounts by state (?from=&to=, dates; ?format=csv)."""
    report = reports.settlement(runtime(), request.args)
    if request.args.get("format") == "csv":
        return Response(exports.settlement_csv(report), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="mospay-settlement-{report["from"]}-{report["to"]}.csv"'})
    return json_response(report)
