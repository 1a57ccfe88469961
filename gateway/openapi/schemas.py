"""Component schemas of the OpenAPI description, built from the schemas the switch validates with.

Request bodies reuse ``gateway.admin.schemas`` and ``gateway.hot_path.fields`` (the very
schemas the views enforce); answers are described here, next to the code that
builds them. Python's ``\\Z`` end anchor becomes ``$`` so that JavaScript tools
(Swagger UI, Postman) read the patterns with the same meaning.
"""

import copy

from gateway.admin import schemas as admin_schemas
from gateway.admin.users import ROLES
from gateway.errors import MosPayError
from gateway.functions import workbench
from gateway.hot_path.fields import ENVELOPE_CODES, ENVELOPE_SCHEMA, FIELD_TYPES, SECRET_CODES, SERVICE_CODES
from gateway.hot_path.settlement import ANSWER_STATES, STATES

REF = "#/components/schemas/"
_FIELD_MEANINGS = {
    "f000": "microservice (e.g. `mtnmomorwa`)", "f001": "service (e.g. `collection`)",
    "f002": "route (e.g. `payment`)", "f003": "App-ID; must equal the `App-ID` header",
    "f004": "amount, a decimal string (a service may define its own rule)",
    "f005": "mobile number (MSISDN): the payer's, in the demo (the payment's currency is a service setting)",
    "f006": "username (a service may define its own rule)",
    "f007": "secret (PIN): passed to the request function, masked everywhere else",
    "f008": "secret (password): passed to the request function, masked everywhere else",
    "f009": "device id (the demo: narration)",
    "f010": "unique id, one payment per client: processed at most once",
}


def ref(name):
    """A ``$ref`` to a component schema."""
    return {"$ref": REF + name}


def portable(schema):
    """A deep copy of ``schema`` whose regular expressions mean the same in ECMA-262 as in Python."""
    if isinstance(schema, dict):
        out = {key: portable(value) for key, value in schema.items()}
        if isinstance(out.get("pattern"), str) and out["pattern"].endswith("\\Z"):
            out["pattern"] = out["pattern"][:-2] + "$"
        return out
    if isinstance(schema, list):
        return [portable(item) for item in schema]
    return copy.deepcopy(schema)


def error_catalogue():
    """``{code: (http_status, default_message)}`` of every error the API answers with."""
    catalogue, stack = {}, [MosPayError]
    while stack:
        cls = stack.pop()
        if cls.__module__ in ("gateway.errors", workbench.__name__):
            catalogue.setdefault(cls.code, (cls.status, cls.message))
        stack.extend(cls.__subclasses__())
    return dict(sorted(catalogue.items()))


def _error_schema():
    codes = {**error_catalogue(), "HTTP_ERROR": ("other", "Any other refusal at the HTTP level.")}
    table = "\n".join(f"| `{code}` | {status} | {message} |" for code, (status, message) in sorted(codes.items()))
    return {
        "type": "object",
        "description": "The one error shape of every API answer that is not a result.\n\n"
                       "| code | HTTP | default message |\n|---|---|---|\n" + table,
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "string", "enum": sorted(codes), "description": "Stable and greppable."},
                    "message": {"type": "string"},
                    "details": {"description": "For validation errors: every bad field and why.",
                                "type": ["object", "array", "string", "null"]},
                },
                "required": ["code", "message"],
                "additionalProperties": False,
            },
            "transaction_ref": {"type": "string", "format": "uuid",
                                "description": "Present once the payment was recorded (its reference)."},
            "status": {"enum": ["FAILED", "UNKNOWN", "REJECTED"],
                       "description": "A recorded payment's final state (`UNKNOWN`: money may have moved)."},
            "unique_id": {"type": "string", "description": "The payment's `f010`."},
        },
        "required": ["error"],
        "additionalProperties": False,
    }


def _payment_message():
    properties = {code: {**portable(ENVELOPE_SCHEMA[code]), "description": _FIELD_MEANINGS[code]}
                  for code in ENVELOPE_CODES}
    for code in SERVICE_CODES:
        kind = {"type": "string", "format": "password", "writeOnly": True} if code in SECRET_CODES else {
            "type": ["string", "integer"]}
        properties[code] = {**kind, "description": _FIELD_MEANINGS[code]}
    return {
        "type": "object",
        "description": "The field-coded message. f000–f003 and f010 form the envelope; each service defines "
                       "f004–f009 (type, pattern, min/max, required) and refuses fields it does not define.",
        "properties": dict(sorted(properties.items())),
        "required": list(ENVELOPE_CODES),
        "additionalProperties": False,
    }


_PAYMENT_ANSWER = {
    "type": "object",
    "description": "What the route's response function answered, with the switch's reference.",
    "properties": {
        "status": {"enum": list(ANSWER_STATES)},
        "code": {"type": "string", "maxLength": 64},
        "message": {"type": "string", "maxLength": 500},
        "data": {"type": "object"},
        "transaction_ref": {"type": "string", "format": "uuid"},
        "unique_id": {"type": "string"},
    },
    "required": ["status", "code", "message", "data", "transaction_ref", "unique_id"],
    "additionalProperties": False,
}

_TRANSACTION_STATUS = {
    "type": "object",
    "properties": {
        "transaction_ref": {"type": "string", "format": "uuid"},
        "unique_id": {"type": "string"},
        "status": {"enum": list(STATES), "description": "`RECEIVED` while in flight."},
        "answer": {"description": "The stored answer, exactly as it was (or will be) replayed.",
                   "anyOf": [ref("PaymentAnswer"), ref("Error"), {"type": "null"}]},
        "created_at": {"type": "string", "format": "date-time"},
        "completed_at": {"type": ["string", "null"], "format": "date-time"},
    },
    "required": ["transaction_ref", "unique_id", "status", "answer", "created_at", "completed_at"],
    "additionalProperties": False,
}


def _token(admin):
    properties = {"access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                  "expires_in": {"type": "integer", "description": "Seconds."}}
    if admin:
        properties["must_change_password"] = {"type": "boolean"}
    return {"type": "object", "properties": properties, "required": list(properties), "additionalProperties": False}


def _object(properties, required=None, **extra):
    return {"type": "object", "properties": properties, "required": list(required or properties),
            "additionalProperties": False, **extra}


_STR, _BOOL, _INT = {"type": "string"}, {"type": "boolean"}, {"type": "integer"}
_TIME = {"type": "string", "format": "date-time"}
_NULLABLE_STR = {"type": ["string", "null"]}
_CLIENT = {"app_id": _STR, "name": _STR, "username": _STR, "callback_url": _NULLABLE_STR, "active": _BOOL,
           "created_at": _TIME}
_ROUTE_KEY = {"microservice": _STR, "service": _STR, "route": _STR}
# What every keyset-paged list answers beside its rows (gateway/admin/keyset.py).
_PAGE = {"next_cursor": {"type": ["string", "null"], "description": "Older rows: pass as `after`."},
         "prev_cursor": {"type": ["string", "null"], "description": "Newer rows: pass as `before`."},
         "total": {"type": ["integer", "null"], "description": "Every matching row; null when more than "
                                                               "`total_more_than` (not counted further)."},
         "total_more_than": {"type": ["integer", "null"]}}
_LOOSE_ROW = {"type": "object", "properties": {"id": _INT, "created_at": _TIME}, "required": ["id", "created_at"]}


def _field_definition():
    return _object({
        "code": {"enum": list(SERVICE_CODES)},
        "name": {"type": "string", "minLength": 1, "maxLength": 64},
        "type": {"enum": list(FIELD_TYPES), "default": "string"},
        "required": {"type": "boolean", "default": False},
        "pattern": {"type": "string", "maxLength": 200, "description": "An extra regular expression."},
        "min": {"type": ["string", "integer"], "description": "Exact decimal bound, or a length for strings."},
        "max": {"type": ["string", "integer"], "description": "Exact decimal bound, or a length for strings."},
        "values": {"type": "array", "items": {"type": "string"}, "minItems": 1, "description": "For `enum`."},
        "description": {"type": "string"},
    }, required=["code", "name"], description="One of f004–f009 as a service defines it.")


def _service_create():
    schema = portable(admin_schemas.SERVICE_CREATE.schema)
    schema["properties"]["fields"]["items"] = ref("FieldDefinition")
    return schema


def _function_summary():
    return _object({"name": _STR, "kind": {"enum": list(workbench.SIGNATURES)}, "version": _INT,
                    "app_id": _STR, **_ROUTE_KEY, "updated_by": _STR, "updated_at": _TIME,
                    "drift": {"enum": ["in_step", "drifted", "missing"]}})


def _function_detail():
    return _object({"name": _STR, "kind": {"enum": list(workbench.SIGNATURES)}, "version": _INT, "app_id": _STR,
                    **_ROUTE_KEY, "template": _STR, "source": _STR, "recorded_source": _STR,
                    "drift": {"enum": ["in_step", "drifted", "missing"]}, "security_definer": _BOOL,
                    "fields": {"type": "array", "items": ref("FieldDefinition")}})


_VERSION = {"version": _INT, "source_hash": _STR, "created_by": _STR, "note": _NULLABLE_STR, "created_at": _TIME}


def component_schemas():
    """Every named schema of the document."""
    return {
        "Error": _error_schema(),
        "PaymentMessage": _payment_message(),
        "PaymentAnswer": _PAYMENT_ANSWER,
        "TransactionStatus": _TRANSACTION_STATUS,
        "PaymentStatement": _object({"payments": {"type": "array", "items": _object({
            "transaction_ref": _STR, "unique_id": _STR, "status": {"enum": list(STATES)}, "code": _NULLABLE_STR,
            "message": _NULLABLE_STR, "data": {"type": "object"}, "http_status": {"type": ["integer", "null"]},
            "created_at": _TIME, "completed_at": {"type": ["string", "null"], "format": "date-time"}})},
            "next_cursor": _NULLABLE_STR}),
        "ClientToken": _token(admin=False),
        "AdminToken": _token(admin=True),
        "Health": _object({"status": {"const": "ok"}}),
        "Readiness": _object({"status": {"enum": ["ready", "not ready"]}, "checks": _object({
            "database": _STR, "migrations": _STR, "routes_loaded": _INT})}),
        "PasswordChange": portable(admin_schemas.PASSWORD_CHANGE.schema),
        "TokenRequest": portable(admin_schemas.TOKEN_REQUEST.schema),
        "PasswordChanged": _object({"changed": {"const": True}}),
        "ClientCreate": portable(admin_schemas.CLIENT_CREATE.schema),
        "Client": _object(_CLIENT),
        "ClientCreated": _object({**_CLIENT, "password": {"type": "string", "description": "Shown this once."},
                                  "callback_secret": {"type": "string", "description": "Signs the client's "
                                                      "callbacks (HMAC-SHA256); shown this once."}}),
        "ClientList": _object({"clients": {"type": "array", "items": ref("Client")}}),
        "ClientDetail": _object({**_CLIENT, "credential_version": _INT, "services": {"type": "array", "items": _object(
            {**_ROUTE_KEY, "request_function": _STR, "response_function": _STR, "enabled": _BOOL,
             "callback_function": _STR,
             "callback_unauthenticated": {"type": "boolean", "description": "The service opted out of callback "
                                          "authentication: anyone may post this route's provider callbacks."}},
            required=[*_ROUTE_KEY, "request_function", "response_function", "enabled"])}}),
        "Credentials": _object({"app_id": _STR, "username": _STR, "password": _STR}),
        "ClientActive": _object({"app_id": _STR, "active": _BOOL}),
        "FieldDefinition": _field_definition(),
        "ServiceCreate": _service_create(),
        "Service": _object({**_ROUTE_KEY, "url": _STR, "method": _STR, "timeout_ms": _INT, "template": _STR,
                            "fields": {"type": "array", "items": ref("FieldDefinition")}}),
        "ServiceList": _object({"services": {"type": "array", "items": ref("Service")}}),
        "Assignment": portable(admin_schemas.ASSIGNMENT.schema),
        "Assigned": _object({"request_function": _STR, "response_function": _STR, "route_file": _STR,
                             "status_function": {"type": "string", "description": "When the template has a status "
                                                 "part: asks the provider what became of a PENDING payment."},
                             "callback_function": {"type": "string", "description": "When the template has a "
                                                   "callback part."},
                             "callback_url": {"type": "string", "description": "Where the provider posts its "
                                              "callbacks, with the route's token (`?token=`): give it only to the "
                                              "provider. A path when `MOSPAY_PUBLIC_URL` is unset."}},
                            required=["request_function", "response_function", "route_file"]),
        "RouteEnabled": _object({"app_id": _STR, **_ROUTE_KEY, "enabled": _BOOL}),
        "UserCreate": portable(admin_schemas.USER_CREATE.schema),
        "UserCreated": _object({"username": _STR, "role": {"enum": list(ROLES)}, "must_change_password": _BOOL}),
        "UserUpdate": portable(admin_schemas.USER_UPDATE.schema),
        "User": _object({"id": _INT, "username": _STR, "role": {"enum": list(ROLES)}, "must_change_password": _BOOL,
                         "active": _BOOL, "created_at": _TIME}),
        "UserList": _object({"users": {"type": "array", "items": _object({
            "id": _INT, "username": _STR, "role": {"enum": list(ROLES)}, "must_change_password": _BOOL,
            "active": _BOOL, "created_at": _TIME,
            "two_factor": {"type": "boolean", "description": "TOTP two-factor sign-in is on."}})}}),
        "FunctionSummary": _function_summary(),
        "FunctionList": _object({"functions": {"type": "array", "items": ref("FunctionSummary")}}),
        "FunctionDetail": _function_detail(),
        "FunctionSource": _object({"source": {"type": "string", "maxLength": workbench.MAX_SOURCE_BYTES,
                                              "description": "One `CREATE OR REPLACE FUNCTION` statement."},
                                   "note": {"type": "string", "description": "Kept (200 characters) with the "
                                                                              "version."}}, required=["source"]),
        "FunctionSaved": _object({"name": _STR, "version": _INT}),
        "FunctionVersions": _object({"name": _STR, "versions": {"type": "array", "items": _object(_VERSION)}}),
        "FunctionVersion": _object({**_VERSION, "source": _STR}),
        "FunctionDiff": _object({"diff": {"type": "string", "description": "Unified diff."}}),
        "Rollback": _object({"version": {"type": "integer", "minimum": 1}}),
        "Regenerate": _object({"force": {"type": "boolean", "default": False}}, required=[]),
        "DriftRecorded": _object({"name": _STR, "version": _INT, "recorded": _BOOL}),
        "TestRunInput": _object({
            "request": {"type": "object", "description": "A sample f000–f010 message."},
            "response": {"type": "object", "description": "For a response function: a sample "
                                                          "`{\"status_code\", \"headers\", \"body\"}`."}},
            required=["request"]),
        "TestRunResult": {"type": "object", "properties": {
            "ok": _BOOL, "result": {"description": "What the function returned."},
            "problem": _NULLABLE_STR, "error": _STR, "detail": _STR}, "required": ["ok"],
            "additionalProperties": False},
        "CallbackPayload": {"description": "The provider's notification (any JSON)."},
        "CallbackAck": {"type": ["object", "array"], "description": "`{\"received\": true, \"outcome\"}` or the "
                                                                     "callback function's `ack`."},
        "CallbackSecret": _object({"app_id": _STR, "callback_secret": _STR}),
        "CallbackToken": _object({"callback_url": _STR}),
        "ClientCallbackUrl": portable(admin_schemas.CLIENT_CALLBACK.schema),
        "ClientCallbackUrlSet": _object({"app_id": _STR, "callback_url": _NULLABLE_STR}),
        "DeliveryList": _object({"deliveries": {"type": "array", "items": _object({
            "id": _INT, "app_id": _STR, "transaction_ref": _STR, "unique_id": _STR, "status": _NULLABLE_STR,
            "state": {"enum": ["queued", "done", "dead"]}, "attempts": _INT,
            "last_status": {"type": ["integer", "null"]}, "last_error": _NULLABLE_STR, "run_at": _TIME,
            "created_at": _TIME, "updated_at": _TIME,
            "completed_at": {"type": ["string", "null"], "format": "date-time"}})}, **_PAGE}),
        "DeliveryResent": _object({"id": _INT, "state": {"const": "queued"}}),
        "FollowUpList": _object({"follow_ups": {"type": "array", "items": _object({
            "id": _INT, "app_id": _STR, "transaction_ref": _STR, "unique_id": _STR, "status": _STR,
            "policy": {"enum": ["status_query", "reverse", "manual"]}, "state": {"enum": ["queued", "done", "manual"]},
            "attempts": _INT, "last_error": _NULLABLE_STR, "run_at": _TIME, "created_at": _TIME,
            "updated_at": _TIME})}, **_PAGE}),
        "TransactionList": _object({"transactions": {"type": "array", "items": _LOOSE_ROW}, **_PAGE}),
        "ApiLogList": _object({"api_logs": {"type": "array", "items": _LOOSE_ROW}, **_PAGE}),
        "AuditList": _object({"entries": {"type": "array", "items": _LOOSE_ROW}, **_PAGE}),
        "ResolutionProposal": _object({"status": {"enum": ["SUCCESS", "FAILED"]},
                                       "reason": {"type": "string", "minLength": 3, "maxLength": 500},
                                       "evidence": {"type": "object", "additionalProperties": _STR}},
                                      required=["status", "reason"]),
        "ResolutionDecision": _object({"note": {"type": "string", "maxLength": 500}}),
        "Resolution": {"type": "object", "properties": {
            "id": _INT, "state": {"enum": ["open", "approved", "rejected"]}, "transaction_ref": _STR,
            "proposed_status": _STR, "status": _STR}},
        "ResolutionList": _object({"resolutions": {"type": "array", "items": _object({
            "id": _INT, "transaction_ref": _STR, "unique_id": _STR, "transaction_status": _STR, "app_id": _STR,
            "proposed_status": _STR, "reason": _STR, "evidence": {"type": "object"}, "proposed_by": _STR,
            "proposed_at": _TIME, "state": {"enum": ["open", "approved", "rejected"]},
            "decided_by": _NULLABLE_STR, "decided_at": {"type": ["string", "null"], "format": "date-time"},
            "decision_note": _NULLABLE_STR})}}),
    }
