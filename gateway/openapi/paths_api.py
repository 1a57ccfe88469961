"""Paths of the integrators' API, health and the description itself."""

from gateway.hot_path.settlement import STATES
from gateway.openapi import examples as ex
from gateway.openapi.operations import CLIENT_SECURITY, JSON, answer, body, errors, header_refs, operation, path_param
from gateway.openapi.schemas import ref

PAYMENT_TAG, HEALTH_TAG = "Payments", "Health"
_AUTH_ERRORS = ("UNAUTHORIZED", "RATE_LIMITED", "TOO_MANY_ATTEMPTS", "DATABASE_UNAVAILABLE")
_PROCESS_ERRORS = (
    "MALFORMED_JSON", "NOT_AN_OBJECT", "VALIDATION_ERROR", "APP_ID_MISMATCH", "FUNCTION_RAISED", "BAD_REQUEST",
    "ROUTE_DISABLED", "ROUTE_NOT_FOUND", "IN_PROGRESS", "MODIFIED_REQUEST", "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE", "REJECTED", "FUNCTION_ERROR", "INVALID_CALL_SPEC", "UPSTREAM_CIRCUIT_OPEN",
    "UPSTREAM_TIMEOUT", "FUNCTION_TIMEOUT", "UPSTREAM_UNAVAILABLE", "PROVIDER_AUTH_FAILED", "PROVIDER_NOT_CONFIGURED",
    *_AUTH_ERRORS,
)
_PROCESS_DESCRIPTION = """\
Runs one field-coded message through the switch: authenticate → validate → resolve the route →
claim `f010` → request function → forward → response function → persist and answer.

* **Idempotency.** `f010` is unique per client. The same payload again replays the stored answer
  (header `Idempotent-Replayed: true`); a different payload with the same `f010` is `409 MODIFIED_REQUEST`;
  while the first is in flight, `409 IN_PROGRESS` with `Retry-After`. Key order does not matter.
* **States.** `SUCCESS` and `FAILED` answer 200, `PENDING` 202, `UNKNOWN` 502 (money may have moved:
  never retry with a new `f010`, ask `GET /api/v1/payment/status/{unique_id}`).
* Field rules (f004–f009) are the service's own; the schema below shows the envelope every service shares.
"""


def _process_responses():
    responses = errors(*_PROCESS_ERRORS)
    responses["200"] = answer("PaymentAnswer", {"success": ex.SUCCESS, "failed": ex.FAILED},
                              "`SUCCESS` or `FAILED` (a decline is an answer, not an error). A replay carries "
                              "`Idempotent-Replayed: true`.", headers=("Server-Timing", "Idempotent-Replayed"))
    responses["202"] = answer("PaymentAnswer", {"pending": ex.PENDING},
                              "`PENDING`: the provider has not finished; ask the status later.",
                              headers=("Server-Timing",))
    unavailable = responses["502"]["content"][JSON]
    responses["502"]["description"] = ("`UNKNOWN` (the provider's answer was unusable: money may have moved) or "
                                       "`UPSTREAM_UNAVAILABLE` (the call failed)")
    unavailable["schema"] = {"anyOf": [ref("PaymentAnswer"), ref("Error")]}
    unavailable["examples"]["unknown"] = {"value": ex.UNKNOWN}
    return responses


def _client_token_responses():
    return {"200": answer("ClientToken", {"token": ex.TOKEN}, "A JWT whose audience is the App-ID; "
                          "rotating the client's credentials revokes it."), **errors(*_AUTH_ERRORS)}


def integrator_paths():
    """Payment processing, payment status and client tokens."""
    unique_id = path_param("unique_id", "The payment's `f010`.", ex.UNIQUE_ID)
    return {
        "/api/v1/payment/process": {"post": operation(
            "processPayment", PAYMENT_TAG, "Process a payment message", _process_responses(), CLIENT_SECURITY,
            description=_PROCESS_DESCRIPTION,
            request_body=body("PaymentMessage", ex.PAYMENT, "Body at most 64 KiB, `application/json`."))},
        "/api/v1/payment/status/{unique_id}": {"get": operation(
            "paymentStatus", PAYMENT_TAG, "A payment's state and stored answer",
            {"200": answer("TransactionStatus", {"success": ex.STATUS}, "The caller's own transaction."),
             **errors("TRANSACTION_NOT_FOUND", *_AUTH_ERRORS)},
            CLIENT_SECURITY, parameters=[unique_id])},
        "/api/v1/payments": {"get": operation(
            "paymentStatement", PAYMENT_TAG, "The caller's own payments, newest first",
            {"200": answer("PaymentStatement", {"page": {"payments": [ex.STATEMENT_ITEM], "next_cursor": "djE6NDI"}},
                           "One page; `next_cursor` is null on the last. Pages by keyset: a deep page costs what "
                           "the first does, and payments made meanwhile never shift a page."),
             **errors("VALIDATION_ERROR", *_AUTH_ERRORS)},
            CLIENT_SECURITY, parameters=[
                _query("from", "Payments created at or after this ISO 8601 date or time.", "2026-12-01"),
                _query("to", "Payments created before this ISO 8601 date or time.", "2026-12-02T00:00:00Z"),
                _query("status", "Only payments in this state.", "SUCCESS", {"enum": list(STATES)}),
                _query("limit", "Page size, 1–200 (default 50).", 50, {"type": "integer"}),
                _query("cursor", "The previous page's `next_cursor`, as it came.", "djE6NDI")])},
        "/api/v1/auth/token": {"post": operation(
            "clientToken", PAYMENT_TAG, "Exchange Basic + App-ID for a JWT", _client_token_responses(),
            [{"basicAuth": [], "appId": []}],
            description="Send it as `Authorization: Bearer <token>` with the `App-ID` header. "
                        "A token cannot renew itself: ask again with Basic credentials.")},
    }


def _query(name, description, example, schema=None):
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}, "example": example}


def health_paths():
    """Liveness, readiness and this document."""
    not_ready = {"status": "not ready", "checks": {"database": "unavailable", "migrations": "unavailable",
                                                    "routes_loaded": 3}}
    return {
        "/health": {"get": operation("health", HEALTH_TAG, "Liveness: the process answers",
                                     {"200": answer("Health", {"ok": {"status": "ok"}}, "Alive.")}, [])},
        "/ready": {"get": operation(
            "ready", HEALTH_TAG, "Readiness: database reachable, migrations current, routes loaded",
            {"200": answer("Readiness", {"ready": {"status": "ready", "checks": {
                "database": "ok", "migrations": "ok", "routes_loaded": 3}}}, "Ready to take traffic."),
             "503": answer("Readiness", {"not_ready": not_ready}, "Not ready; `checks` says why.")}, [])},
        "/api/v1/openapi.json": {"get": operation(
            "openapi", HEALTH_TAG, "This OpenAPI 3.1 description",
            {"200": {"description": "The document (interactive docs at `/docs`).", "headers": header_refs(),
                     "content": {JSON: {"schema": {"type": "object", "required": ["openapi", "info", "paths"]}}}}},
            [])},
    }
