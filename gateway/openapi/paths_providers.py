"""Paths of the provider credential vault (issue 12 §2)."""

from gateway.admin.credentials import CREDENTIALS_PUT
from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, answer, body, errors, operation, path_param
from gateway.openapi.paths_admin import ADMIN_ONLY, READ_ERRORS, ROLES_NOTE, WRITE_ERRORS
from gateway.openapi.schemas import _object, portable

TAG = "Provider credentials"
_STR = {"type": "string"}
_NAMES = {"type": "array", "items": _STR}
_WRITE_ONLY = """\
Values are sealed at rest (Fernet under `MOSPAY_SEAL_KEYS`, rotatable) and never come back: not in this answer,
a page, a log, an export or a function's source. Functions read them at call time as `context.credentials.<name>`.
A value of `null` removes the name. `missing` lists what the service's template declares it needs
(`sql/functions/<template>/provider.yaml`) and has no value for: payments on such a route are refused with
`409 PROVIDER_NOT_CONFIGURED`, nothing sent."""
EXAMPLE_VALUES = {"values": {"api_user": "0b6a3c1e-5f2d-4c8a-9e7b-1d2f3a4b5c6d", "api_key": "…",
                             "subscription_key": "…", "target_environment": "sandbox"}}
EXAMPLE_NAMES = {"names": ["api_key", "api_user", "subscription_key", "target_environment"],
                 "updated_at": ex.COMPLETED_AT, "required": ["api_user", "api_key", "subscription_key",
                                                             "target_environment"], "missing": []}


def provider_schemas():
    """Component schemas of the vault's bodies and answers."""
    names = {"names": _NAMES, "updated_at": {"type": ["string", "null"]}, "required": _NAMES, "missing": _NAMES}
    return {"CredentialValues": portable(CREDENTIALS_PUT.schema),
            "CredentialNames": _object(names, ["names", "updated_at", "required", "missing"]),
            "RouteCredentialNames": _object({**names, "inherited": _NAMES},
                                            ["names", "updated_at", "required", "missing", "inherited"])}


def provider_paths():
    """GET/PUT of a service's credentials and of one client route's overrides."""
    key = [path_param("microservice", "f000", "mtnmomorwa"), path_param("service", "f001", "collection"),
           path_param("route", "f002", "payment")]
    app_id = path_param("app_id", "The client's App-ID.", ex.APP_ID)
    route_names = {**EXAMPLE_NAMES, "names": ["api_key", "api_user"], "inherited": EXAMPLE_NAMES["names"]}

    def pair(prefix, operation_id, what, schema, example, parameters):
        return {
            "get": operation(f"get{operation_id}", TAG, f"The names of {what} (never the values)",
                             {"200": answer(schema, {"names": example}, "Names, last change, what is missing."),
                              **errors("NOT_FOUND", *READ_ERRORS)},
                             ADMIN_SECURITY, description=ROLES_NOTE, parameters=parameters),
            "put": operation(f"set{operation_id}", TAG, f"Store {what}, sealed",
                             {"200": answer(schema, {"stored": example}, "The names now stored: never values."),
                              **errors("NOT_FOUND", *WRITE_ERRORS)},
                             ADMIN_SECURITY, description=ADMIN_ONLY + "\n\n" + _WRITE_ONLY,
                             request_body=body("CredentialValues", EXAMPLE_VALUES), parameters=parameters)}

    return {
        "/api/v1/admin/services/{microservice}/{service}/{route}/credentials":
            pair("service", "ServiceCredentials", "a service's provider credentials", "CredentialNames",
                 EXAMPLE_NAMES, key),
        "/api/v1/admin/clients/{app_id}/services/{microservice}/{service}/{route}/credentials":
            pair("route", "RouteCredentials", "one client route's own provider credentials (overriding the "
                 "service's)", "RouteCredentialNames", route_names, [app_id, *key]),
    }
