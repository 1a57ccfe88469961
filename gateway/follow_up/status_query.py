"""Asking a provider what became of a payment (the route's ``status_query``).

Shared by recovery (a crashed worker's payment) and the unknown-outcome
follow-ups. The status call runs through the one route pipeline with a ready
call in place of the request function, and the provider's answer is read by
the route's own response function; only a final state (SUCCESS or FAILED) counts.
"""

import logging

from gateway.hot_path.pipeline import RoutePipeline
from gateway.hot_path.settlement import FINAL

log = logging.getLogger(__name__)


def status_url(query, row):
    """The route's status URL for this payment (``{transaction_ref}``, ``{unique_id}`` filled in)."""
    return query["url"].replace("{transaction_ref}", row["ref"]).replace("{unique_id}", row["unique_id"])


def ask_provider(rt, route, row, purpose):
    """The ``RouteRun`` when the provider reports a final state, else ``None`` (ask again later).

    ``row`` holds the payment's ``id``, ``ref``, ``unique_id`` and masked ``request``; ``purpose``
    (``recovery``, ``follow_up``) is set to true in the function's context.
    """
    query = route.context["route"].get("status_query") or {}
    if not query.get("url"):
        return None
    call = {"url": status_url(query, row), "method": query.get("method", "GET"), "headers": {}, "body": None,
            "timeout_ms": min(route.timeout_ms, rt.config.MAX_TIMEOUT_MS)}
    context = {**route.context, "transaction_ref": row["ref"], "transaction_id": row["id"],
               "unique_id": row["unique_id"], purpose: True}
    run = RoutePipeline(rt, route, context).run(row["request"], call=call)
    if run.result.failure is not None:
        return None
    if run.failure is not None:
        log.warning("status query of %s: the response function could not read the answer", row["ref"])
        return None
    return run if run.answer["status"] in FINAL else None
