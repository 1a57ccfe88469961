"""Settles payments a crashed worker left unfinished (``flask transactions recover``).

A row still ``RECEIVED`` after every timeout has passed belongs to a worker
that died, or lost the database, between claim and answer. If the route
declares a ``status_query``, the provider is asked what happened and the
response function reads its answer; otherwise the payment is marked
``UNKNOWN`` for an operator. Money is never guessed.
"""

import logging

from psycopg.types.json import Jsonb

from gateway import call_spec, deliveries
from gateway.db import Q
from gateway.functions import runner
from gateway.payments import STATUS_HTTP

log = logging.getLogger(__name__)
FINAL = ("SUCCESS", "FAILED")


def recover(rt, older_than_seconds=None, limit=500):
    """Settle stale RECEIVED payments; returns ``{ref: status}`` of those settled."""
    if older_than_seconds is None:
        older_than_seconds = 2 * rt.config.MAX_TIMEOUT_MS / 1000
    settled = {}
    with rt.db.transaction() as conn:  # rows stay locked while settled: two recoverers never race
        for row in conn.execute(Q.stale_transactions, {"older_than": older_than_seconds, "limit": limit}).fetchall():
            settlement = _settle(rt, row)
            # A payment settled SUCCESS/FAILED here was never answered: its client is told by callback.
            deliveries.enqueue(conn, conn.execute(Q.settle_transaction, {"id": row["id"], **settlement}).fetchone())
            settled[row["ref"]] = settlement["status"]
            log.warning("recovered payment %s as %s", row["ref"], settlement["status"])
    return settled


def _settle(rt, row):
    route = rt.registry.route(row["app_id"], row["microservice"], row["service"], row["route"])
    query = (route.context["route"].get("status_query") if route else None) or {}
    if query.get("url"):
        settlement = _ask_provider(rt, route, row, query)
        if settlement:
            return settlement
    return _unknown(row, "No status query for this route: check with the provider.")


def _ask_provider(rt, route, row, query):
    url = query["url"].replace("{transaction_ref}", row["ref"]).replace("{unique_id}", row["unique_id"])
    spec = {"url": url, "method": query.get("method", "GET"), "headers": {}, "body": None,
            "timeout_ms": min(route.timeout_ms, rt.config.MAX_TIMEOUT_MS)}
    response = rt.forwarder.send(spec)
    if "error" in response:
        return None
    context = {**route.context, "transaction_ref": row["ref"], "transaction_id": row["id"],
               "unique_id": row["unique_id"], "recovery": True}
    try:
        with rt.functions_db.connection() as conn:
            answer = call_spec.parse_answer(runner.call(conn, route.response_sql, (row["request"], response, context),
                                                        rt.config.FUNCTION_TIMEOUT_MS))
    except (runner.FunctionFailure, ValueError):
        log.warning("recovery of %s: the response function could not read the status answer", row["ref"])
        return None
    if answer["status"] not in FINAL:
        return None
    body = {**answer, "transaction_ref": row["ref"], "unique_id": row["unique_id"]}
    return {"status": answer["status"], "answer": Jsonb(body), "http_status": STATUS_HTTP[answer["status"]],
            "error_code": None, "error_detail": "settled by status query", "downstream_status":
            response["status_code"], "downstream_response": Jsonb(response)}


def _unknown(row, detail):
    body = {"error": {"code": "OUTCOME_UNKNOWN", "message": "The payment's outcome is unknown; it is being checked."},
            "status": "UNKNOWN", "transaction_ref": row["ref"], "unique_id": row["unique_id"]}
    return {"status": "UNKNOWN", "answer": Jsonb(body), "http_status": 502, "error_code": "OUTCOME_UNKNOWN",
            "error_detail": f"recovered after a crash: {detail}", "downstream_status": None,
            "downstream_response": None}
