"""Paths of provider callbacks (inbound) and client callback deliveries (outbound)."""

from gateway.openapi import examples as ex
from gateway.openapi.operations import ADMIN_SECURITY, answer, body, errors, operation, path_param
from gateway.openapi.paths_admin import ADMIN_ONLY, READ_ERRORS, ROLES_NOTE, WRITE_ERRORS

TAG = "Callbacks"
_INBOUND_DESCRIPTION = """\
A provider's notification for one client route. The route's generated
`CALLBACK_<app_id>_<microservice>_<route>(payload jsonb, headers jsonb, context jsonb)` function maps it to
`{"transaction_ref" | "unique_id" | "provider_ref", "status", "code", "message", "data"}` (and, optionally,
`"ack"`: the body answered here). A `PENDING` or `UNKNOWN` payment of this route moves to `SUCCESS` or
`FAILED`; a final payment never changes (a late or repeated notification is acknowledged, `outcome: ignored`).

The URL carries the route's unguessable token (`?token=…`, from the assignment's `callback_url` or
`context.route.callback_url`): without it, or with a wrong one, `401 UNAUTHORIZED` before anything is looked up,
the same answer whether or not the route or the payment exists. A service created with
`"callback": {"auth": "none"}` (an audited opt-in, flagged in the portal) needs no token.

When the service requires a signature (`callback.hmac_header`), the header must carry the hex HMAC-SHA256 of the
raw body with the service's secret (`sha256=` prefix optional): otherwise `401 INVALID_SIGNATURE` and nothing
changes. `409 NOT_READY`: the payment's synchronous answer is still being written; send it again.
`409 NOT_CONFIRMED`: the notification says SUCCESS but the route's status query does not confirm it yet (the
provider's own answer settles a payment); nothing changed, send it again.
"""
_DELIVERY_ID = path_param("delivery_id", "The delivery's id (`X-MosPay-Delivery`).", 42, {"type": "integer"})


def _query(name, description, example, schema=None):
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}, "example": example}


def _inbound(app_id, suffix):
    """The provider callback operation; PUT too, as MTN MoMo sends its notification."""
    return operation(
        "providerCallback" + suffix, TAG, "A provider's notification settles a pending payment",
        {"200": answer("CallbackAck", {"applied": ex.CALLBACKS["ack"], "ignored": ex.CALLBACKS["ignored"]},
                       "Acknowledged: `applied` (the payment moved) or `ignored` (final already, or not final "
                       "news), or the function's own `ack`."),
         **errors("MALFORMED_JSON", "UNAUTHORIZED", "INVALID_SIGNATURE", "TRANSACTION_NOT_FOUND", "NOT_READY",
                  "NOT_CONFIRMED",
                  "PAYLOAD_TOO_LARGE", "FUNCTION_ERROR", "FUNCTION_TIMEOUT", "FUNCTION_RAISED",
                  "INVALID_CALLBACK_RESULT", "DATABASE_UNAVAILABLE")},
        [], description=_INBOUND_DESCRIPTION,
        request_body=body("CallbackPayload", ex.CALLBACKS["payload"], "Whatever the provider sends, as JSON."),
        parameters=[app_id, path_param("microservice", "f000", "mtnmomorwa"),
                    path_param("route", "f002", "payment"),
                    _query("token", "The route's callback token (required unless the service opted out).",
                           "Xq3…")])


def callback_paths():
    """The provider callback endpoint and the admin API of client callbacks."""
    app_id = path_param("app_id", "The client's App-ID.", ex.APP_ID)
    return {
        "/api/v1/callbacks/{app_id}/{microservice}/{route}": {
            method: _inbound(app_id, suffix) for method, suffix in (("post", ""), ("put", "Put"))},
        "/api/v1/admin/clients/{app_id}/callback-secret": {"post": operation(
            "rotateCallbackSecret", TAG, "Rotate the secret signing the client's callbacks",
            {"200": answer("CallbackSecret", {"rotated": ex.CALLBACKS["secret"]},
                           "The new secret, in this answer only (sealed at rest); the old one stops at once."),
             **errors("NOT_FOUND", *READ_ERRORS)},
            ADMIN_SECURITY, description=ADMIN_ONLY, parameters=[app_id])},
        "/api/v1/admin/clients/{app_id}/services/{microservice}/{service}/{route}/callback-token": {"post": operation(
            "rotateCallbackToken", TAG, "Rotate the token of a route's provider callback URL",
            {"200": answer("CallbackToken", {"rotated": {"callback_url": "https://switch.example/api/v1/callbacks/"
                                                                         "akaliza/mtnmomorwa/payment?token=…"}},
                           "The new callback URL, in this answer only (the token is sealed at rest); the old "
                           "token is refused from now on: give the provider the new URL."),
             **errors("NOT_FOUND", *READ_ERRORS)},
            ADMIN_SECURITY, description=ADMIN_ONLY,
            parameters=[app_id, path_param("microservice", "f000", "mtnmomorwa"),
                        path_param("service", "f001", "collection"), path_param("route", "f002", "payment")])},
        "/api/v1/admin/clients/{app_id}/callback-url": {"put": operation(
            "setCallbackUrl", TAG, "Set or clear the client's callback URL",
            {"200": answer("ClientCallbackUrlSet", {"set": {"app_id": ex.APP_ID, **ex.CALLBACKS["url"]}},
                           "The client's callback URL."),
             **errors("NOT_FOUND", *WRITE_ERRORS)},
            ADMIN_SECURITY, description=ADMIN_ONLY + " `null` stops the callbacks.",
            request_body=body("ClientCallbackUrl", ex.CALLBACKS["url"]), parameters=[app_id])},
        "/api/v1/admin/deliveries": {"get": operation(
            "listDeliveries", TAG, "Client callback deliveries, newest first",
            {"200": answer("DeliveryList", {"deliveries": ex.CALLBACKS["deliveries"]},
                           "Each delivery: `queued` (waiting for `run_at`), `done`, or `dead` (retries exhausted)."),
             **errors("VALIDATION_ERROR", *READ_ERRORS)},
            ADMIN_SECURITY, description=ROLES_NOTE, parameters=[
                _query("app_id", "Only this client's.", ex.APP_ID),
                _query("state", "Only deliveries in this state.", "dead", {"enum": ["queued", "done", "dead"]}),
                _query("limit", "At most this many (1–500).", 100, {"type": "integer"})])},
        "/api/v1/admin/unknown-outcomes": {"get": operation(
            "listUnknownOutcomes", TAG, "Follow-ups of UNKNOWN payments, newest first",
            {"200": answer("FollowUpList", {"follow_ups": ex.CALLBACKS["follow_ups"]},
                           "Each follow-up of a route's `on_unknown` policy: `queued`, `done`, or `manual` "
                           "(policy `manual`, or the deadline passed: an operator checks with the provider)."),
             **errors("VALIDATION_ERROR", *READ_ERRORS)},
            ADMIN_SECURITY, description=ROLES_NOTE, parameters=[
                _query("app_id", "Only this client's.", ex.APP_ID),
                _query("state", "Only follow-ups in this state.", "manual", {"enum": ["queued", "done", "manual"]}),
                _query("limit", "At most this many (1–500).", 100, {"type": "integer"})])},
        "/api/v1/admin/deliveries/{delivery_id}/resend": {"post": operation(
            "resendDelivery", TAG, "Send a delivery again now",
            {"200": answer("DeliveryResent", {"resent": {"id": 42, "state": "queued"}},
                           "Queued now, with a fresh retry budget."),
             **errors("NOT_FOUND", *READ_ERRORS)},
            ADMIN_SECURITY, description=ADMIN_ONLY, parameters=[_DELIVERY_ID])},
        **_resolution_paths(),
    }


_RESOLUTION_ID = path_param("resolution_id", "The proposal's id.", 7, {"type": "integer"})
_FOUR_EYES = (ADMIN_ONLY + " Four eyes: a proposal settles the payment only when a second admin approves it "
              "(`MOSPAY_RESOLUTION_APPROVALS=1`: at once); the client gets its signed callback; both people are "
              "in the audit log.")


def _resolution_paths():
    """Resolving UNKNOWN (or overdue PENDING) payments by hand, maker-checker."""
    decided = {"approved": {"id": 7, "state": "approved", "transaction_ref": ex.REF, "status": "SUCCESS"}}
    return {
        "/api/v1/admin/transactions/{ref}/resolutions": {"post": operation(
            "proposeResolution", TAG, "Propose a final state for an UNKNOWN or overdue PENDING payment",
            {"201": answer("Resolution", {"open": {"id": 7, "state": "open", "transaction_ref": ex.REF,
                                                   "proposed_status": "SUCCESS"}}, "The open proposal."),
             **errors("NOT_FOUND", "CONFLICT", *WRITE_ERRORS)},
            ADMIN_SECURITY, description=_FOUR_EYES,
            request_body=body("ResolutionProposal", {"status": "SUCCESS", "reason": "Paid per MTN statement",
                                                     "evidence": {"provider_ref": "4410237756"}}),
            parameters=[path_param("ref", "The payment's transaction_ref.", ex.REF, {"type": "string",
                                                                                   "format": "uuid"})])},
        "/api/v1/admin/resolutions": {"get": operation(
            "listResolutions", TAG, "Resolution proposals, newest first",
            {"200": answer("ResolutionList", {"open": {"resolutions": []}}, "The proposals in that state."),
             **errors("VALIDATION_ERROR", *READ_ERRORS)},
            ADMIN_SECURITY, description=ROLES_NOTE, parameters=[
                _query("state", "Proposals in this state (default open).", "open",
                       {"enum": ["open", "approved", "rejected"]}),
                _query("limit", "At most this many (1–500).", 100, {"type": "integer"})])},
        "/api/v1/admin/resolutions/{resolution_id}/approve": {"post": operation(
            "approveResolution", TAG, "Approve another admin's proposal: the payment settles",
            {"200": answer("Resolution", decided, "The payment's new state."),
             **errors("NOT_FOUND", "CONFLICT", *WRITE_ERRORS)},
            ADMIN_SECURITY, description=_FOUR_EYES, parameters=[_RESOLUTION_ID],
            request_body=body("ResolutionDecision", {"note": "checked the statement"}, required=False))},
        "/api/v1/admin/resolutions/{resolution_id}/reject": {"post": operation(
            "rejectResolution", TAG, "Reject a proposal: the payment stays as it is",
            {"200": answer("Resolution", {"rejected": {"id": 7, "state": "rejected", "transaction_ref": ex.REF}},
                           "The closed proposal."),
             **errors("NOT_FOUND", "CONFLICT", *WRITE_ERRORS)},
            ADMIN_SECURITY, description=ADMIN_ONLY, parameters=[_RESOLUTION_ID],
            request_body=body("ResolutionDecision", {"note": "no trace at the provider"}, required=False))},
    }
