"""Client portal accounts over the admin API: invite, list, (de)activate; a user's two-factor reset."""

from flask import Blueprint, g

from gateway.admin import client_users, two_factor
from gateway.api import json_body, json_response
from gateway.api.admin import WRITE_ROLES, admin_required
from gateway.runtime import runtime

bp = Blueprint("admin_client_users_api", __name__, url_prefix="/api/v1/admin")


@bp.get("/clients/<app_id>/users")
@admin_required()
def list_client_users(app_id):
    """The client app's portal users."""
    return json_response({"users": client_users.list_users(runtime(), app_id)})


@bp.post("/clients/<app_id>/users")
@admin_required(WRITE_ROLES)
def invite_client_user(app_id):
    """Invite an e-mail address to the client portal; the invitation link is in this answer only."""
    return json_response(client_users.invite(runtime(), app_id, json_body(), g.user.username), 201)


@bp.post("/clients/<app_id>/users/<int:user_id>/<any(activate, deactivate):action>")
@admin_required(WRITE_ROLES)
def set_client_user_active(app_id, user_id, action):
    """Let a client user sign in again, or stop them (their session ends on its next request)."""
    return json_response(client_users.set_active(runtime(), app_id, user_id, action == "activate", g.user.username))


@bp.post("/users/<username>/two-factor/reset")
@admin_required(WRITE_ROLES)
def reset_two_factor(username):
    """Turn a user's two-factor sign-in off (a lost authenticator); they enrol again at next sign-in."""
    return json_response(two_factor.reset_user(runtime(), username, g.user.username))
