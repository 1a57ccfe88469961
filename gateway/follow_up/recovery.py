"""Settles payments a crashed worker left unfinished (``flask transactions recover``).

A row still ``RECEIVED`` whose claim lease has expired (every timeout has
passed) belongs to a worker that died, or lost the database, between claim
and answer; a payment still in its lease is never touched. If the route
declares a ``status_query``, the provider is asked what happened and the
response function reads its answer; otherwise the payment is marked
``UNKNOWN`` for an operator. Money is never guessed.
"""

import logging

from gateway.db import Q
from gateway.errors import OutcomeUnknown
from gateway.follow_up import status_query
from gateway.hot_path.settlement import RECEIVED, UNKNOWN, Settlement, settle, stored_answer

log = logging.getLogger(__name__)


def recover(rt, older_than_seconds=None, limit=500):
    """Settle RECEIVED payments whose lease has expired (and, if given, older than ``older_than_seconds``);
    returns ``{ref: status}`` of those settled."""
    if older_than_seconds is None:
        older_than_seconds = 0  # the lease already covers every timeout
    settled = {}
    with rt.db.transaction() as conn:  # rows stay locked while settled: two recoverers never race
        for row in conn.execute(Q.stale_transactions, {"older_than": older_than_seconds, "limit": limit}).fetchall():
            route = rt.registry.route(row["app_id"], row["microservice"], row["service"], row["route"])
            # Never answered: a final state reaches the client by callback; UNKNOWN is followed up per route.
            done = settle(conn, row["id"], (RECEIVED,), _settlement(rt, route, row), route=route, notify_client=True,
                          created_at=row["created_at"])
            if done is not None:
                settled[row["ref"]] = done["status"]
                log.warning("recovered payment %s as %s", row["ref"], done["status"])
    return settled


def _settlement(rt, route, row):
    run = status_query.ask_provider(rt, route, row, "recovery") if route else None
    if run is None:
        error = OutcomeUnknown(transaction_ref=row["ref"], extra={"status": UNKNOWN, "unique_id": row["unique_id"]})
        return Settlement.from_error(error, UNKNOWN, "recovered after a crash: No final answer from a status query "
                                                     "for this route: check with the provider.")
    # The provider's answer is kept like the hot path keeps it: the route's secrets (and the token the status
    # call carried) masked by value, should the provider echo them.
    secrets = route.secrets.plus((run.token,) if run.token else ())
    return Settlement.from_answer(run.answer, row["ref"], row["unique_id"], "settled by status query",
                                  downstream_status=run.result.status_code,
                                  downstream_response=secrets.scrub(stored_answer(run.result.as_json())))
