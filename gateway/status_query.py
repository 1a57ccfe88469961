"""Asking a provider what became of a payment (the route's ``status_query``).

Shared by recovery (a crashed worker's payment) and the unknown-outcome
follow-ups: the provider's answer is read by the route's own response
function, and only a final state (SUCCESS or FAILED) counts.
"""

import logging

from gateway import call_spec
from gateway.functions import runner

log = logging.getLogger(__name__)
FINAL = ("SUCCESS", "FAILED")


def status_url(query, row):
    """The route's status URL for this payment (``{transaction_ref}``, ``{unique_id}`` filled in)."""
    return query["url"].replace("{transaction_ref}", row["ref"]).replace("{unique_id}", row["unique_id"])


def ask_provider(rt, route, row, purpose):
    """``(answer, response)`` when the provider reports a final state, else ``None`` (ask again later).

    ``row`` holds the payment's ``id``, ``ref``, ``unique_id`` and masked ``request``; ``purpose``
    (``recovery``, ``follow_up``) is set to true in the function's context.
    """
    query = route.context["route"].get("status_query") or {}
    if not query.get("url"):
        return None
    spec = {"url": status_url(query, row), "method": query.get("method", "GET"), "headers": {}, "body": None,
            "timeout_ms": min(route.timeout_ms, rt.config.MAX_TIMEOUT_MS)}
    response = rt.forwarder.send(spec)
    if "error" in response:
        return None
    context = {**route.context, "transaction_ref": row["ref"], "transaction_id": row["id"],
               "unique_id": row["unique_id"], purpose: True}
    try:
        with rt.functions_db.connection() as conn:
            answer = call_spec.parse_answer(runner.call(conn, route.response_sql, (row["request"], response, context),
                                                        rt.config.FUNCTION_TIMEOUT_MS))
    except (runner.FunctionFailure, ValueError):
        log.warning("status query of %s: the response function could not read the answer", row["ref"])
        return None
    if answer["status"] not in FINAL:
        return None
    return answer, response
