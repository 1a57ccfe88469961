"""JSON Schemas of the admin API's request bodies."""

from gateway.admin.roles import ROLES
from gateway.hot_path.fields import FieldValidator
from gateway.hot_path.forwarder import METHODS
from gateway.naming import MAX_PART_LENGTH, NAME_PART
from gateway.security.passwords import MAX_PASSWORD_BYTES

_NAME = {"type": "string", "pattern": NAME_PART.pattern, "maxLength": MAX_PART_LENGTH}
_URL = {"type": "string", "pattern": r"^https?://[^\s/$.?#][^\s]*\Z", "maxLength": 2000}
_AMOUNT = {"type": "string", "pattern": r"^(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?\Z"}
_CURRENCY = {"type": "string", "pattern": r"^[A-Z]{3}\Z"}
# bcrypt reads 72 bytes: a longer password is refused (naming the limit), never truncated nor a 500.
_NEW_PASSWORD = {"type": "string", "minLength": 10, "x-max-bytes": MAX_PASSWORD_BYTES}

_CREDENTIAL_NAME = {"type": "string", "pattern": r"^[a-z][a-z0-9_]{0,63}\Z"}
# A token step (sql/functions/<template>/provider.yaml): a path under the service's base URL, the two credentials
# of the Basic header, headers taken from credentials, and where the token and its lifetime are in the answer.
TOKEN_STEP = {"type": "object", "additionalProperties": False, "required": ["path"], "properties": {
    "path": {"type": "string", "pattern": r"^/[^\s]{0,300}\Z"},
    "method": {"enum": ["GET", "POST"]},
    "basic": {"type": "array", "items": _CREDENTIAL_NAME, "minItems": 2, "maxItems": 2},
    "headers": {"type": "object", "maxProperties": 10, "propertyNames": {"pattern": r"^[A-Za-z0-9-]{1,64}\Z"},
                "additionalProperties": _CREDENTIAL_NAME},
    "token_field": {"type": "string", "maxLength": 64}, "expires_field": {"type": "string", "maxLength": 64}}}

CLIENT_CREATE = FieldValidator({
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[^\x00-\x1f]*\S[^\x00-\x1f]*\Z", "maxLength": 200},
        "app_id": _NAME,
        "callback_url": {"anyOf": [_URL, {"type": "null"}]},
    },
    "required": ["name"],
    "additionalProperties": False,
})

SERVICE_CREATE = FieldValidator({
    "type": "object",
    "properties": {
        "microservice": _NAME, "service": _NAME, "route": _NAME, "url": _URL,
        "method": {"enum": list(METHODS)},
        "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 60000},
        "template": {"type": "string", "maxLength": 64},
        # Checked here, with everything else, so one answer names every problem of a payload.
        "fields": {"type": "array", "maxItems": 6, "x-field-definitions": True},
        # Request-function plugins (sql/functions/plugins/) and their settings, kept in services.settings.
        "plugins": {"type": "array", "items": {"type": "string", "maxLength": 64}, "uniqueItems": True,
                    "maxItems": 10},
        "risk": {"type": "object", "additionalProperties": False, "required": ["max_amount"], "properties": {
            "max_amount": _AMOUNT, "currency": _CURRENCY}},
        # What the provider charges on each successful payment, in the payment's currency (settlement report).
        "fee": {"type": "object", "additionalProperties": False, "minProperties": 1, "properties": {
            "percent": {"type": "string", "pattern": r"^(100|[0-9]{1,2})(\.[0-9]{1,4})?\Z"}, "fixed": _AMOUNT}},
        "fx": {"type": "object", "additionalProperties": False, "required": ["settlement_currency"], "properties": {
            "settlement_currency": _CURRENCY, "decimals": {"type": "integer", "minimum": 0, "maximum": 4}}},
        # The payment's currency unless a field typed "currency" names it (default: the template's).
        "currency": _CURRENCY,
        # The provider's token step, when the template declares none (or to change it): see provider.yaml.
        "token": TOKEN_STEP,
        # Inbound provider callbacks: the HMAC-SHA256 signature to require (the secret is sealed at rest and
        # never shown again), "auth": "none" to accept callbacks without the URL's token (an audited opt-in),
        # and the key of the response function's data that holds the provider's reference.
        "callback": {"type": "object", "additionalProperties": False,
                     "dependentRequired": {"hmac_header": ["secret"], "secret": ["hmac_header"]}, "properties": {
                         "auth": {"enum": ["token", "none"]},
                         "hmac_header": {"type": "string", "pattern": r"^[A-Za-z0-9-]{1,64}\Z"},
                         "secret": {"type": "string", "minLength": 16, "maxLength": 200},
                         "provider_ref_field": {"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_]{0,63}\Z"}}},
    },
    "required": ["microservice", "service", "route", "url"],
    "additionalProperties": False,
})

CLIENT_CALLBACK = FieldValidator({
    "type": "object",
    "properties": {"callback_url": {"anyOf": [_URL, {"type": "null"}]}},
    "required": ["callback_url"],
    "additionalProperties": False,
})

ASSIGNMENT = FieldValidator({
    "type": "object",
    "properties": {"microservice": _NAME, "service": _NAME, "route": _NAME,
                   # This client's own provider credentials for the route (sealed; they override the service's).
                   "credentials": {"type": "object", "maxProperties": 32,
                                   "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,63}\Z"},
                                   "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 4096,
                                                            "pattern": r"^[^\x00]*\Z"}}},
    "required": ["microservice", "service", "route"],
    "additionalProperties": False,
})

PASSWORD_CHANGE = FieldValidator({
    "type": "object",
    "properties": {
        "current_password": {"type": "string", "maxLength": 1000},
        "new_password": _NEW_PASSWORD,
    },
    "required": ["current_password", "new_password"],
    "additionalProperties": False,
})

USER_UPDATE = FieldValidator({
    "type": "object",
    "properties": {"role": {"enum": list(ROLES)}, "active": {"type": "boolean"}},
    "minProperties": 1,
    "additionalProperties": False,
})

USER_CREATE = FieldValidator({
    "type": "object",
    "properties": {
        "username": {"type": "string", "pattern": r"^[A-Za-z0-9_.@-]{1,64}\Z"},
        "role": {"enum": list(ROLES)},
        "password": _NEW_PASSWORD,
    },
    "required": ["username", "role", "password"],
    "additionalProperties": False,
})

# Client portal users (gateway/admin/client_users.py): invited by e-mail, who choose their own password.
CLIENT_USER_INVITE = FieldValidator({
    "type": "object",
    "properties": {"email": {"type": "string", "pattern": r"^[^@\s]{1,64}@[^@\s]{1,189}\Z"}},
    "required": ["email"],
    "additionalProperties": False,
})

CLIENT_USER_PASSWORD = FieldValidator({
    "type": "object",
    "properties": {"password": _NEW_PASSWORD},
    "required": ["password"],
    "additionalProperties": False,
})

# The admin API's token endpoint: an optional second factor (a 6-digit TOTP code or a recovery code).
TOKEN_REQUEST = FieldValidator({
    "type": "object",
    "properties": {"totp": {"type": "string", "maxLength": 32}},
    "additionalProperties": False,
})
