"""Settles payments a crashed worker left unfinished (``flask transactions recover``).

A row still ``RECEIVED`` after every timeout has passed belongs to a worker
that died, or lost the database, between claim and answer. If the route
declares a ``status_query``, the provider is asked what happened and the
response function reads its answer; otherwise the payment is marked
``UNKNOWN`` for an operator. Money is never guessed.
"""

import logging

from psycopg.types.json import Jsonb

from gateway import deliveries, status_query
from gateway.db import Q
from gateway.payments import STATUS_HTTP, unknown_outcome_job

log = logging.getLogger(__name__)


def recover(rt, older_than_seconds=None, limit=500):
    """Settle stale RECEIVED payments; returns ``{ref: status}`` of those settled."""
    if older_than_seconds is None:
        older_than_seconds = 2 * rt.config.MAX_TIMEOUT_MS / 1000
    settled = {}
    with rt.db.transaction() as conn:  # rows stay locked while settled: two recoverers never race
        for row in conn.execute(Q.stale_transactions, {"older_than": older_than_seconds, "limit": limit}).fetchall():
            route = rt.registry.route(row["app_id"], row["microservice"], row["service"], row["route"])
            settlement = _settle(rt, route, row)
            # A payment settled SUCCESS/FAILED here was never answered: its client is told by callback.
            deliveries.enqueue(conn, conn.execute(Q.settle_transaction, {"id": row["id"], **settlement}).fetchone())
            policy = route.context["route"].get("on_unknown") if route else None
            if settlement["status"] == "UNKNOWN" and policy:  # followed up like any UNKNOWN payment of the route
                conn.execute(Q.enqueue_unknown_outcome, {"transaction_id": row["id"], **unknown_outcome_job(policy)})
            settled[row["ref"]] = settlement["status"]
            log.warning("recovered payment %s as %s", row["ref"], settlement["status"])
    return settled


def _settle(rt, route, row):
    found = status_query.ask_provider(rt, route, row, "recovery") if route else None
    if found is None:
        return _unknown(row, "No final answer from a status query for this route: check with the provider.")
    answer, response = found
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
