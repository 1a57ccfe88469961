"""The OpenAPI 3.1 document of the switch, assembled from its parts."""

import copy
import functools

from gateway.openapi.operations import HEADERS
from gateway.openapi.paths_admin import admin_paths
from gateway.openapi.paths_api import health_paths, integrator_paths
from gateway.openapi.paths_callbacks import callback_paths
from gateway.openapi.paths_client_users import client_user_paths
from gateway.openapi.paths_functions import function_paths
from gateway.openapi.paths_lists import list_paths
from gateway.openapi.paths_ops import operations_paths
from gateway.openapi.paths_providers import provider_paths, provider_schemas
from gateway.openapi.schemas import component_schemas

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0.0"
DESCRIPTION = """\
MosPay is a payment switch: integrators post one field-coded JSON message (`f000`–`f010`) to one
endpoint; the switch finds the client's route, runs the client's request function (PostgreSQL), forwards
the call, runs the response function on the answer, records everything and replies.

**Integrators** authenticate with `Authorization: Basic base64(username:password)` plus the `App-ID`
header (`X-App-ID` is accepted too), or with `Authorization: Bearer <jwt>` from `POST /api/v1/auth/token`
plus `App-ID`. **Admins** exchange a user's Basic credentials for a token at `POST /api/v1/admin/token`
and send it as `Authorization: Bearer <token>`.

Every error has one shape, `{"error": {"code", "message", "details"?}, "transaction_ref"?}`: see the
`Error` schema for every code. Every answer carries `X-Request-ID`.
"""
SECURITY_SCHEMES = {
    "basicAuth": {"type": "http", "scheme": "basic",
                  "description": "A client's username and password (with `App-ID`), or an admin user's (for "
                                 "`POST /api/v1/admin/token` only)."},
    "appId": {"type": "apiKey", "in": "header", "name": "App-ID",
              "description": "The client's App-ID; `f003` must equal it. `X-App-ID` is accepted too."},
    "clientBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                     "description": "A client token from `POST /api/v1/auth/token` (audience: the App-ID)."},
    "adminBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                    "description": "An admin token from `POST /api/v1/admin/token`."},
}
TAGS = [
    {"name": "Payments", "description": "The integrators' API."},
    {"name": "Admin", "description": "Onboard clients and services, rotate credentials, manage users."},
    {"name": "DBA workbench", "description": "Read, customise, version, test and roll back client functions."},
    {"name": "Callbacks", "description": "Providers' notifications in; signed notifications out to clients."},
    {"name": "Operations", "description": "Exports, reconciliation against provider statements, alerts."},
    {"name": "Provider credentials", "description": "The write-only vault of each service's provider credentials."},
    {"name": "Reports", "description": "Transactions, API logs and the audit log, paged by keyset."},
    {"name": "Health", "description": "Liveness, readiness and this description."},
]


@functools.cache
def _build():
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "MosPay switch API", "version": API_VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/", "description": "This switch"}],
        "tags": TAGS,
        "paths": {**integrator_paths(), **admin_paths(), **function_paths(), **callback_paths(), **operations_paths(),
                  **client_user_paths(), **provider_paths(), **list_paths(), **health_paths()},
        "components": {"schemas": {**component_schemas(), **provider_schemas()}, "headers": HEADERS,
                       "securitySchemes": SECURITY_SCHEMES},
    }


def build_spec():
    """The whole document as a dict (a fresh copy: callers may change it)."""
    return copy.deepcopy(_build())
