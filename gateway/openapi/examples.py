"""Realistic examples: the demo client ``akaliza`` paying through ``mtnmomorwa``/``collection``/``payment``."""

from gateway.admin.demo import DEMO_CLIENT, DEMO_SERVICE
from gateway.openapi.schemas import error_catalogue

APP_ID = DEMO_CLIENT["app_id"]
REF = "5f0c2a9e-8d1b-4c7e-9a43-2b6f1d0e7c55"
UNIQUE_ID = "demo-0001"
CREATED_AT = "2025-01-15T09:30:12.418204+00:00"
COMPLETED_AT = "2025-01-15T09:30:12.502771+00:00"
ROUTE_KEY = {k: DEMO_SERVICE[k] for k in ("microservice", "service", "route")}
REQUEST_FUNCTION = f"{APP_ID}_{DEMO_SERVICE['microservice']}_{DEMO_SERVICE['route']}"
RESPONSE_FUNCTION = f"RESPONSE_{REQUEST_FUNCTION}"

PAYMENT = {"f000": "mtnmomorwa", "f001": "collection", "f002": "payment", "f003": APP_ID,
           "f004": "1500", "f005": "250788123456", "f009": "Order 1042", "f010": UNIQUE_ID}
SUCCESS = {"status": "SUCCESS", "code": "SUCCESSFUL", "message": "Payment completed.",
           "data": {"amount": "1500", "currency": "RWF", "financial_transaction_id": "4410237756"},
           "transaction_ref": REF, "unique_id": UNIQUE_ID}
FAILED = {"status": "FAILED", "code": "NOT_ENOUGH_FUNDS", "message": "Payment failed: NOT_ENOUGH_FUNDS",
          "data": {"amount": "99", "currency": "RWF", "financial_transaction_id": None},
          "transaction_ref": REF, "unique_id": UNIQUE_ID}
PENDING = {"status": "PENDING", "code": "ACCEPTED", "message": "The payer was asked to approve the payment.",
           "data": {"provider_ref": REF}, "transaction_ref": REF, "unique_id": UNIQUE_ID}
UNKNOWN = {"status": "UNKNOWN", "code": "PROVIDER_ERROR", "message": "The provider failed; the outcome is being "
           "checked.", "data": {"http_status": 500}, "transaction_ref": REF, "unique_id": UNIQUE_ID}
STATUS = {"transaction_ref": REF, "unique_id": UNIQUE_ID, "status": "SUCCESS", "answer": SUCCESS,
          "created_at": CREATED_AT, "completed_at": COMPLETED_AT}
STATEMENT_ITEM = {"transaction_ref": REF, "unique_id": UNIQUE_ID, "status": "SUCCESS", "code": SUCCESS["code"],
                  "message": SUCCESS["message"], "data": SUCCESS["data"], "http_status": 200,
                  "created_at": CREATED_AT, "completed_at": COMPLETED_AT}
TOKEN = {"access_token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJha2FsaXphIn0.c2lnbmF0dXJl",
         "token_type": "Bearer", "expires_in": 900}
ADMIN_TOKEN = {**TOKEN, "must_change_password": False}

CLIENT = {"app_id": APP_ID, "name": DEMO_CLIENT["name"], "username": APP_ID, "callback_url": None,
          "active": True, "created_at": CREATED_AT}
SERVICE = {**ROUTE_KEY, "url": "http://127.0.0.1:5050", "method": "POST",
           "timeout_ms": DEMO_SERVICE["timeout_ms"], "template": DEMO_SERVICE["template"],
           "fields": DEMO_SERVICE["fields"]}
SERVICE_CREATE = {**{k: v for k, v in SERVICE.items() if k != "method"}, "route": "refund",
                  "fields": DEMO_SERVICE["fields"][:3]}
FUNCTION_SOURCE = f'''CREATE OR REPLACE FUNCTION mospay_fn."{REQUEST_FUNCTION}"(request jsonb, context jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $function$
BEGIN
    IF (request->>'f004')::numeric > 100000 THEN  -- a risk limit, in SQL
        RETURN jsonb_build_object('reject', jsonb_build_object('code', 'LIMIT', 'message', 'Over the limit'));
    END IF;
    RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'method', 'POST',
                              'body', jsonb_build_object('amount', request->>'f004', 'payer', request->>'f005'));
END $function$'''
VERSION = {"version": 2, "source_hash": "9c1f5e0b7d2a4c36b8e1f0a2d3c4b5a6978877665544332211ffeeddccbbaa99",
           "created_by": "dba", "note": "risk limit", "created_at": COMPLETED_AT}

ADMIN = {
    "client_create": {"name": "Kigali Shop", "app_id": "kigalishop"},
    "client_created": {**CLIENT, "app_id": "kigalishop", "name": "Kigali Shop", "username": "kigalishop",
                       "password": "pX3v9QkR2mWc7Lz4Tb8NyA",
                       "callback_secret": "whsec_q8Vn3LxT0bKc5Wm2Hy7Rz9Pd4Fs6Ja1EgUo3Ni8Mt0"},
    "clients": {"clients": [CLIENT]},
    "client_detail": {**CLIENT, "credential_version": 1, "services": [
        {**ROUTE_KEY, "request_function": REQUEST_FUNCTION, "response_function": RESPONSE_FUNCTION,
         "enabled": True}]},
    "credentials": {"app_id": APP_ID, "username": f"{APP_ID}_3f9a1c7e", "password": "Vb7nQ2xK9pLm4Rt6Wc3ZyE"},
    "client_active": {"app_id": APP_ID, "active": False},
    "service_create": SERVICE_CREATE,
    "service": {**SERVICE_CREATE, "method": "POST"},
    "services": {"services": [SERVICE]},
    "assignment": ROUTE_KEY,
    "assigned": {"request_function": REQUEST_FUNCTION, "response_function": RESPONSE_FUNCTION,
                 "route_file": f"routes_config/{APP_ID}/mtnmomorwa_collection_payment.yaml"},
    "route_enabled": {"app_id": APP_ID, **ROUTE_KEY, "enabled": False},
    "user_create": {"username": "grace.dba", "role": "dba", "password": "first-password-1"},
    "user_created": {"username": "grace.dba", "role": "dba", "must_change_password": True},
    "users": {"users": [{"id": 1, "username": "admin", "role": "admin", "must_change_password": False,
                         "active": True, "created_at": CREATED_AT, "two_factor": True}]},
    "user_update": {"role": "viewer", "active": False},
    "user_updated": {"id": 2, "username": "grace.dba", "role": "viewer", "must_change_password": False,
                     "active": False, "created_at": CREATED_AT},
    "password_change": {"current_password": "admin123", "new_password": "a-long-new-password"},
    "password_changed": {"changed": True},
}
FUNCTIONS = {
    "list": {"functions": [{"name": REQUEST_FUNCTION, "kind": "request", "version": 2, "app_id": APP_ID,
                            **ROUTE_KEY, "updated_by": "dba", "updated_at": COMPLETED_AT, "drift": "in_step"}]},
    "detail": {"name": REQUEST_FUNCTION, "kind": "request", "version": 2, "app_id": APP_ID, **ROUTE_KEY,
               "template": "mtn_momo_collection", "source": FUNCTION_SOURCE, "recorded_source": FUNCTION_SOURCE,
               "drift": "in_step", "security_definer": False, "fields": DEMO_SERVICE["fields"]},
    "source": {"source": FUNCTION_SOURCE, "note": "risk limit"},
    "saved": {"name": REQUEST_FUNCTION, "version": 2},
    "versions": {"name": REQUEST_FUNCTION, "versions": [VERSION]},
    "version": {**VERSION, "source": FUNCTION_SOURCE},
    "diff": {"diff": f"--- {REQUEST_FUNCTION} v1\n+++ {REQUEST_FUNCTION} v2\n@@ -3 +3,3 @@\n BEGIN\n"
                     "+    IF (request->>'f004')::numeric > 100000 THEN\n"},
    "rollback": {"version": 1},
    "regenerate": {"force": False},
    "drift": {"name": REQUEST_FUNCTION, "version": 3, "recorded": True},
    "test_input": {"request": PAYMENT},
    "test_result": {"ok": True, "problem": None, "result": {
        "url": SERVICE["url"], "method": "POST", "body": {"amount": "1500", "payer": "250788123456"}}},
}

# Beside the rows of a keyset-paged list: the cursors of the neighbouring pages and the count.
PAGE = {"next_cursor": "azF8MjAyNS0wMS0xNVQwOTozMDoxMi40MTgyMDQrMDA6MDB8NDI", "prev_cursor": None, "total": None,
        "total_more_than": 1000}

CALLBACKS = {
    "payload": {"transaction_ref": REF, "status": "SUCCESS", "code": "SUCCESSFUL", "message": "Payment completed.",
                "data": {"financial_transaction_id": "4410237756"}},
    "ack": {"received": True, "outcome": "applied"},
    "ignored": {"received": True, "outcome": "ignored"},
    "secret": {"app_id": APP_ID, "callback_secret": "whsec_Zr4Kp1Wq8Tn3Vx6Hb0Lm5Cs2Jd9Gf7Ya4Eu1Oi8Nt3"},
    "url": {"callback_url": "https://shop.example/hooks/mospay"},
    "deliveries": {"deliveries": [{
        "id": 42, "app_id": APP_ID, "transaction_ref": REF, "unique_id": UNIQUE_ID, "status": "SUCCESS",
        "state": "queued", "attempts": 2, "last_status": 503, "last_error": "HTTP 503", "run_at": COMPLETED_AT,
        "created_at": CREATED_AT, "updated_at": CREATED_AT, "completed_at": None}], **PAGE},
    "follow_ups": {"follow_ups": [{
        "id": 43, "app_id": APP_ID, "transaction_ref": REF, "unique_id": UNIQUE_ID, "status": "UNKNOWN",
        "policy": "status_query", "state": "manual", "attempts": 7,
        "last_error": "deadline passed: no final answer from the status query yet", "run_at": COMPLETED_AT,
        "created_at": CREATED_AT, "updated_at": COMPLETED_AT}], **PAGE},
}

LISTS = {
    "transactions": {"transactions": [{
        "id": 42, "ref": REF, "unique_id": UNIQUE_ID, "status": "SUCCESS", "http_status": 200, "error_code": None,
        "answer_code": "SUCCESSFUL", "created_at": CREATED_AT, "completed_at": COMPLETED_AT, "app_id": APP_ID,
        "client_name": DEMO_CLIENT["name"], **ROUTE_KEY, "amount": "1500", "currency": "RWF", "error": None}],
        **PAGE},
    "api_logs": {"api_logs": [{
        "id": 77, "method": "POST", "path": "/api/v1/payment/process", "http_status": 200, "error_code": None,
        "duration_ms": "84.120", "remote_addr": "10.0.0.7", "created_at": COMPLETED_AT, "app_id": APP_ID,
        "transaction_ref": REF, "status": "SUCCESS", "answer_code": "SUCCESSFUL", "error": None}], **PAGE},
    "audit": {"entries": [{
        "id": 9, "actor": "admin", "action": "client.create", "target": APP_ID, "before": None,
        "after": {"app_id": APP_ID}, "created_at": CREATED_AT}], **{**PAGE, "next_cursor": None, "total": 1,
                                                                     "total_more_than": None}},
}

# Details or extras that make an error example realistic; the rest show the default message.
_ERROR_EXTRAS = {
    "VALIDATION_ERROR": {"details": {"f004": "must be at most 5000000", "f006": "has an invalid format"}},
    "MODIFIED_REQUEST": {"transaction_ref": REF},
    "IN_PROGRESS": {"transaction_ref": REF},
    "REJECTED": {"message": "Over the limit", "details": {"reason": "LIMIT"}, "transaction_ref": REF,
                 "status": "REJECTED", "unique_id": UNIQUE_ID},
    "FUNCTION_RAISED": {"message": "payer is blocked", "transaction_ref": REF, "status": "FAILED",
                        "unique_id": UNIQUE_ID},
    "FUNCTION_ERROR": {"transaction_ref": REF, "status": "FAILED", "unique_id": UNIQUE_ID},
    "UPSTREAM_UNAVAILABLE": {"transaction_ref": REF, "status": "FAILED", "unique_id": UNIQUE_ID},
    "UPSTREAM_TIMEOUT": {"transaction_ref": REF, "status": "UNKNOWN", "unique_id": UNIQUE_ID},
    "UPSTREAM_CIRCUIT_OPEN": {"transaction_ref": REF, "status": "FAILED", "unique_id": UNIQUE_ID},
    "PROVIDER_AUTH_FAILED": {"transaction_ref": REF, "status": "FAILED", "unique_id": UNIQUE_ID},
    "PROVIDER_NOT_CONFIGURED": {"message": "The route's provider credentials are incomplete; nothing was sent. "
                                           "Missing: api_key.", "details": {"missing": ["api_key"]}},
    "ALREADY_EXISTS": {"message": "A client with app_id 'kigalishop' already exists.",
                       "details": {"app_id": "kigalishop"}},
    "FUNCTION_REFUSED": {"message": 'syntax error at or near "ELSE"', "details": {"sqlstate": "42601", "line": 5}},
}


def error_example(code):
    """The error body of ``code`` as the switch renders it."""
    extras = dict(_ERROR_EXTRAS.get(code, {}))
    error = {"code": code, "message": extras.pop("message", error_catalogue()[code][1])}
    if "details" in extras:
        error["details"] = extras.pop("details")
    return {"error": error, **extras}
