"""Paths of client portal accounts (invitations) and of a user's two-factor reset, in the admin API."""

from gateway.admin import schemas as admin_schemas
from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, JSON, answer, errors, operation, path_param
from gateway.openapi.paths_admin import ADMIN_ONLY, READ_ERRORS, ROLES_NOTE, TAG, WRITE_ERRORS
from gateway.openapi.schemas import portable

_STR, _BOOL, _INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
_USER = {"type": "object", "additionalProperties": False, "properties": {
    "id": _INT, "email": _STR, "active": _BOOL, "accepted": _BOOL, "invitation_expires_at": _NULLABLE_TIME,
    "two_factor": _BOOL, "last_sign_in_at": _NULLABLE_TIME, "invited_by": _STR, "created_at": _TIME}}
_USER["required"] = list(_USER["properties"])
_INVITED = {"type": "object", "additionalProperties": False, "required": ["app_id", "email", "invitation_path",
                                                                           "expires_at"], "properties": {
    "app_id": _STR, "email": _STR, "expires_at": _TIME,
    "invitation_path": {"type": "string", "description": "Open it (on the switch's address) to choose a password; "
                                                        "shown in this answer only, single use."}}}
_USER_ACTIVE = {"type": "object", "additionalProperties": False, "required": ["id", "email", "active"],
                "properties": {"id": _INT, "email": _STR, "active": _BOOL}}
_EXAMPLE_USER = {"id": 7, "email": "dev@akaliza.example", "active": True, "accepted": True,
                 "invitation_expires_at": None, "two_factor": False, "last_sign_in_at": "2026-12-01T09:12:44+00:00",
                 "invited_by": "admin", "created_at": "2026-11-30T16:02:10+00:00"}
_EXAMPLE_INVITED = {"app_id": ex.APP_ID, "email": "dev@akaliza.example", "expires_at": "2026-12-04T11:30:00+00:00",
                    "invitation_path": "/client/invitation/3q2-7vX…"}


def _body(schema, example):
    return {"required": True, "content": {JSON: {"schema": schema, "examples": {"example": {"value": example}}}}}


def client_user_paths():
    """Invite, list and (de)activate client portal users; reset a user's two-factor sign-in."""
    app_id = path_param("app_id", "The client's App-ID.", ex.APP_ID)
    return {
        "/api/v1/admin/clients/{app_id}/users": {
            "get": operation("listClientUsers", TAG, "The client app's portal users", {
                "200": answer({"type": "object", "additionalProperties": False, "required": ["users"],
                               "properties": {"users": {"type": "array", "items": _USER}}},
                              {"users": {"users": [_EXAMPLE_USER]}}, "Who may sign in at `/client/` for this app."),
                **errors(*READ_ERRORS)}, ADMIN_SECURITY, description=ROLES_NOTE, parameters=[app_id]),
            "post": operation("inviteClientUser", TAG, "Invite someone of the client app to the client portal", {
                "201": answer(_INVITED, {"invited": _EXAMPLE_INVITED}, "The invitation link's path, this once "
                              "(only its hash is stored); valid `MOSPAY_CLIENT_INVITATION_HOURS`. Inviting "
                              "someone of this client again makes a new link (the old one stops) and is their "
                              "password reset: their password and sessions stop until they set a new one."),
                **errors("NOT_FOUND", "ALREADY_EXISTS", *WRITE_ERRORS)}, ADMIN_SECURITY,
                description=ADMIN_ONLY + " The person sees this client app only: its payments, API logs, callbacks, "
                "credentials and routes.", parameters=[app_id],
                request_body=_body(portable(admin_schemas.CLIENT_USER_INVITE.schema),
                                   {"email": "dev@akaliza.example"})),
        },
        "/api/v1/admin/clients/{app_id}/users/{user_id}/{action}": {"post": operation(
            "setClientUserActive", TAG, "Stop a client user signing in, or let them again", {
                "200": answer(_USER_ACTIVE, {"deactivated": {"id": 7, "email": "dev@akaliza.example", "active": False}},
                              "Done; a deactivated user's session ends on its next request."),
                **errors("NOT_FOUND", *READ_ERRORS)}, ADMIN_SECURITY, description=ADMIN_ONLY,
            parameters=[app_id, path_param("user_id", "The client user's id.", 7, {"type": "integer"}),
                        path_param("action", "What to do.", "deactivate", {"enum": ["activate", "deactivate"]})])},
        "/api/v1/admin/users/{username}/two-factor/reset": {"post": operation(
            "resetTwoFactor", TAG, "Turn a user's two-factor sign-in off (a lost authenticator)", {
                "200": answer({"type": "object", "additionalProperties": False, "required": ["username", "two_factor"],
                               "properties": {"username": _STR, "two_factor": {"const": False}}},
                              {"reset": {"username": "alice", "two_factor": False}},
                              "Off; with `MOSPAY_REQUIRE_TOTP` the user enrols again at the next sign-in."),
                **errors("NOT_FOUND", *READ_ERRORS)}, ADMIN_SECURITY, description=ADMIN_ONLY + " Audited.",
            parameters=[path_param("username", "The user.", "alice")])},
    }
