"""Paths of the admin API: tokens, password, clients, services, assignments, users."""

from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, answer, body, errors, operation, path_param

TAG = "Admin"
READ_ERRORS = ("UNAUTHORIZED", "PASSWORD_CHANGE_REQUIRED", "FORBIDDEN", "DATABASE_UNAVAILABLE")
WRITE_ERRORS = ("MALFORMED_JSON", "NOT_AN_OBJECT", "VALIDATION_ERROR", "BAD_REQUEST", "UNSUPPORTED_MEDIA_TYPE",
                "PAYLOAD_TOO_LARGE", *READ_ERRORS)
ROLES_NOTE = "Roles: any of `admin`, `dba`, `viewer`."
ADMIN_ONLY = "Role: `admin`."
APP_ID = path_param("app_id", "The client's App-ID.", ex.APP_ID)


def _op(operation_id, summary, responses, description, *error_codes, request_body=None, parameters=None):
    return operation(operation_id, TAG, summary, {**responses, **errors(*error_codes)}, ADMIN_SECURITY,
                     description=description, request_body=request_body, parameters=parameters)


def _client_action(operation_id, summary, schema, example, description):
    return {"post": _op(operation_id, summary, {"200": answer(schema, {"example": example}, summary)},
                        description, "NOT_FOUND", *READ_ERRORS, parameters=[APP_ID])}


def account_paths():
    """Admin tokens and the password change."""
    return {
        "/api/v1/admin/token": {"post": operation(
            "adminToken", TAG, "Exchange a user's Basic credentials for an admin token",
            {"200": answer("AdminToken", {"token": ex.ADMIN_TOKEN}, "A JWT for the admin API; a password change "
                           "revokes it. `must_change_password`: only `POST /password` is allowed until then."),
             **errors("UNAUTHORIZED", "TOTP_REQUIRED", "TOTP_ENROLMENT_REQUIRED", "TOO_MANY_ATTEMPTS",
                      "VALIDATION_ERROR", "MALFORMED_JSON", "NOT_AN_OBJECT", "UNSUPPORTED_MEDIA_TYPE",
                      "PAYLOAD_TOO_LARGE", "DATABASE_UNAVAILABLE")},
            [{"basicAuth": []}], description=(
                "A user with two-factor sign-in sends `{\"totp\": \"123456\"}` (each code is accepted once) or one "
                "of their recovery codes (single use); without it, `401 TOTP_REQUIRED`. With `MOSPAY_REQUIRE_TOTP` "
                "(default in production) an admin or DBA who has not enrolled yet gets `403 TOTP_ENROLMENT_REQUIRED`: "
                "enrol in the portal (**Two-factor sign-in**) first."),
            request_body=body("TokenRequest", {"totp": "492039"}, "Only for users with two-factor sign-in.",
                              required=False))},
        "/api/v1/admin/password": {"post": _op(
            "changePassword", "Change the signed-in user's password",
            {"200": answer("PasswordChanged", {"changed": ex.ADMIN["password_changed"]}, "Changed; ask a new token.")},
            "Required first for the seeded `admin` (and every new user). Any role.",
            *WRITE_ERRORS,
            request_body=body("PasswordChange", ex.ADMIN["password_change"]))},
    }


def client_paths():
    """Clients: create, list, read, rotate, activate, deactivate."""
    return {
        "/api/v1/admin/clients": {
            "get": _op("listClients", "Every client", {"200": answer("ClientList", {"clients": ex.ADMIN["clients"]},
                                                                      "Clients, without secrets.")},
                       ROLES_NOTE, *READ_ERRORS),
            "post": _op("createClient", "Create a client",
                        {"201": answer("ClientCreated", {"created": ex.ADMIN["client_created"]},
                                       "The client; its `password` is shown in this answer only (bcrypt at rest).")},
                        ADMIN_ONLY + " Without `app_id`, one is derived from the name.", "ALREADY_EXISTS",
                        *WRITE_ERRORS, request_body=body("ClientCreate", ex.ADMIN["client_create"])),
        },
        "/api/v1/admin/clients/{app_id}": {"get": _op(
            "getClient", "One client and its services",
            {"200": answer("ClientDetail", {"akaliza": ex.ADMIN["client_detail"]}, "The client.")},
            ROLES_NOTE, "NOT_FOUND", *READ_ERRORS, parameters=[APP_ID])},
        "/api/v1/admin/clients/{app_id}/credentials": _client_action(
            "rotateCredentials", "Rotate the client's credentials", "Credentials", ex.ADMIN["credentials"],
            ADMIN_ONLY + " New username and password; the old ones, and tokens issued with them, stop at once."),
        "/api/v1/admin/clients/{app_id}/activate": _client_action(
            "activateClient", "Let the client transact again", "ClientActive",
            {**ex.ADMIN["client_active"], "active": True}, ADMIN_ONLY),
        "/api/v1/admin/clients/{app_id}/deactivate": _client_action(
            "deactivateClient", "Refuse the client's requests from now on", "ClientActive",
            ex.ADMIN["client_active"], ADMIN_ONLY),
    }


def service_paths():
    """Services, assignments and route switches."""
    route_params = [APP_ID, path_param("microservice", "f000", "mtnmomorwa"),
                    path_param("service", "f001", "collection"), path_param("route", "f002", "payment"),
                    path_param("action", "What to do.", "disable", {"enum": ["enable", "disable"]})]
    return {
        "/api/v1/admin/services": {
            "get": _op("listServices", "Every service",
                       {"200": answer("ServiceList", {"services": ex.ADMIN["services"]}, "Services.")},
                       ROLES_NOTE, *READ_ERRORS),
            "post": _op("createService", "Register a microservice / service / route with its fields",
                        {"201": answer("Service", {"created": ex.ADMIN["service"]}, "The service.")},
                        ADMIN_ONLY + " `template`: `generic_json` (default) or `mtn_momo_collection`.",
                        "ALREADY_EXISTS", *WRITE_ERRORS,
                        request_body=body("ServiceCreate", ex.ADMIN["service_create"])),
        },
        "/api/v1/admin/clients/{app_id}/services": {"post": _op(
            "assignService", "Assign a service to a client",
            {"201": answer("Assigned", {"assigned": ex.ADMIN["assigned"]},
                           "Generated `mospay_fn.\"<app_id>_<microservice>_<route>\"`, its `RESPONSE_` twin (and "
                           "`STATUS_`, `CALLBACK_` when the template has them) and the route file.")},
            ADMIN_ONLY + " `credentials` (optional): this client's own provider credentials for the route, sealed. "
            "Refused with `409 PROVIDER_NOT_CONFIGURED` (naming them) while the template's credentials are missing.",
            "NOT_FOUND", "ALREADY_EXISTS", "PROVIDER_NOT_CONFIGURED", *WRITE_ERRORS,
            request_body=body("Assignment", ex.ADMIN["assignment"]), parameters=[APP_ID])},
        "/api/v1/admin/clients/{app_id}/services/{microservice}/{service}/{route}/{action}": {"post": _op(
            "setRouteEnabled", "Enable or disable one of a client's routes",
            {"200": answer("RouteEnabled", {"disabled": ex.ADMIN["route_enabled"]}, "The route's new state.")},
            ADMIN_ONLY + " A disabled route answers `403 ROUTE_DISABLED`.", "NOT_FOUND", *READ_ERRORS,
            parameters=route_params)},
    }


def user_paths():
    """Portal and admin-API users."""
    return {"/api/v1/admin/users": {
        "get": _op("listUsers", "Every user", {"200": answer("UserList", {"users": ex.ADMIN["users"]}, "Users.")},
                   ADMIN_ONLY, *READ_ERRORS),
        "post": _op("createUser", "Create a user who must change the password at first sign-in",
                    {"201": answer("UserCreated", {"created": ex.ADMIN["user_created"]}, "The user.")},
                    ADMIN_ONLY, "ALREADY_EXISTS", *WRITE_ERRORS,
                    request_body=body("UserCreate", ex.ADMIN["user_create"])),
    }, "/api/v1/admin/users/{username}": {
        "patch": _op("updateUser", "Change a user's role, or deactivate / reactivate them",
                     {"200": answer("User", {"updated": ex.ADMIN["user_updated"]}, "The user now.")},
                     ADMIN_ONLY + " Nobody changes their own account; the last active admin stays one.",
                     "NOT_FOUND", "CONFLICT", *WRITE_ERRORS, request_body=body("UserUpdate", ex.ADMIN["user_update"]),
                     parameters=[path_param("username", "The user's name.", "grace.dba")]),
    }}


def report_paths():
    """Reports: the settlement report."""
    row = {"day": "2026-12-01", "app_id": ex.APP_ID, "name": "Akaliza Ltd", "microservice": "mtnmomorwa",
           "service": "collection", "route": "payment", "currency": "RWF", "count": 3, "success": 2, "failed": 1,
           "rejected": 0, "open": 0, "completed": 3, "volume": "3000", "failed_amount": "1500", "open_amount": "0"}
    total = {k: row[k] for k in ("currency", "count", "success", "failed", "rejected", "open", "volume",
                                 "failed_amount", "open_amount")}
    date = {"type": "string", "format": "date"}
    return {"/api/v1/admin/reports/settlement": {"get": _op(
        "settlementReport", "Settlement: per day × client × service × currency, counts and amounts by state",
        {"200": answer({"type": "object", "properties": {"from": date, "to": date, "rows": {"type": "array"},
                                                          "totals": {"type": "array"}}},
                       {"report": {"from": "2026-12-01", "to": "2026-12-01", "rows": [row], "totals": [total]}},
                       "Amounts are exact decimals as strings, per currency (never added across currencies); "
                       "`?format=csv` answers the rows as CSV.")},
        ROLES_NOTE, "VALIDATION_ERROR", *READ_ERRORS, parameters=[
            {"name": "from", "in": "query", "required": False, "schema": date, "example": "2026-12-01",
             "description": "First day (default today)."},
            {"name": "to", "in": "query", "required": False, "schema": date, "example": "2026-12-31",
             "description": "Last day, included (at most 366 days after `from`)."},
            {"name": "format", "in": "query", "required": False, "schema": {"enum": ["json", "csv"]},
             "example": "csv", "description": "`csv` for a spreadsheet."}])}}


def admin_paths():
    """Every path of the admin API except the DBA workbench."""
    return {**account_paths(), **client_paths(), **service_paths(), **user_paths(), **report_paths()}
