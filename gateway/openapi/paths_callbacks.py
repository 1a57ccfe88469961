"""Paths of provider callbacks (inbound)."""

from gateway.openapi import examples as ex
from gateway.openapi.operations import answer, body, errors, operation, path_param

TAG = "Callbacks"
_INBOUND_DESCRIPTION = """\
A provider's notification for one client route. The route's generated
`CALLBACK_<app_id>_<microservice>_<route>(payload jsonb, headers jsonb, context jsonb)` function maps it to
`{"transaction_ref" | "unique_id" | "provider_ref", "status", "code", "message", "data"}` (and, optionally,
`"ack"`: the body answered here). A `PENDING` or `UNKNOWN` payment of this route moves to `SUCCESS` or
`FAILED`; a final payment never changes (a late or repeated notification is acknowledged, `outcome: ignored`).

When the service requires a signature (`callback.hmac_header`), the header must carry the hex HMAC-SHA256 of the
raw body with the service's secret (`sha256=` prefix optional): otherwise `401 INVALID_SIGNATURE` and nothing
changes. `409 NOT_READY`: the payment's synchronous answer is still being written; send it again.
"""
def callback_paths():
    """The provider callback endpoint."""
    app_id = path_param("app_id", "The client's App-ID.", ex.APP_ID)
    return {
        "/api/v1/callbacks/{app_id}/{microservice}/{route}": {"post": operation(
            "providerCallback", TAG, "A provider's notification settles a pending payment",
            {"200": answer("CallbackAck", {"applied": ex.CALLBACKS["ack"], "ignored": ex.CALLBACKS["ignored"]},
                           "Acknowledged: `applied` (the payment moved) or `ignored` (final already, or not final "
                           "news), or the function's own `ack`."),
             **errors("MALFORMED_JSON", "INVALID_SIGNATURE", "ROUTE_NOT_FOUND", "TRANSACTION_NOT_FOUND", "NOT_READY",
                      "PAYLOAD_TOO_LARGE", "FUNCTION_ERROR", "FUNCTION_TIMEOUT", "FUNCTION_RAISED",
                      "INVALID_CALLBACK_RESULT", "DATABASE_UNAVAILABLE")},
            [], description=_INBOUND_DESCRIPTION,
            request_body=body("CallbackPayload", ex.CALLBACKS["payload"], "Whatever the provider sends, as JSON."),
            parameters=[app_id, path_param("microservice", "f000", "mtnmomorwa"),
                        path_param("route", "f002", "payment")])},
    }
