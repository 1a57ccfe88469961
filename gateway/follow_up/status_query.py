"""Asking a provider what became of a payment (the route's ``status_query``).

Shared by recovery (a crashed worker's payment), the PENDING and UNKNOWN
follow-ups and the confirmation of a provider callback. The status call is built
by the route's STATUS function (generated from its template, versioned, editable)
or, for routes without one, from the YAML's ``status_query.url``; it runs through
the one route pipeline (token, credentials, 401 refresh included) and the
provider's answer is read by the route's own response function; only a final
state (SUCCESS or FAILED) counts.
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
    if not query.get("url") and route.status_sql is None:
        return None
    context = {**route.context, "transaction_ref": row["ref"], "transaction_id": row["id"],
               "unique_id": row["unique_id"], "provider_ref": row.get("provider_ref"), purpose: True}
    pipeline = RoutePipeline(rt, route, context)
    if route.status_sql is not None:
        run = pipeline.run(row["request"], builder=route.status_sql)
    else:
        call = {"url": status_url(query, row), "method": query.get("method", "GET"), "headers": {}, "body": None,
                "timeout_ms": min(route.timeout_ms, rt.config.MAX_TIMEOUT_MS)}
        run = pipeline.run(row["request"], call=call)
    if run.kind != "call":  # the STATUS function refused, answered by itself or failed; the token step failed
        log.warning("status query of %s did not run: %s", row["ref"],
                    run.failure.detail if run.failure else run.kind)
        return None
    if run.result.failure is not None:
        return None
    if run.failure is not None:
        log.warning("status query of %s: the response function could not read the answer", row["ref"])
        return None
    return run if run.answer["status"] in FINAL else None


def has_status_query(route):
    """Whether the route can ask its provider what became of a payment."""
    return route.status_sql is not None or bool((route.context["route"].get("status_query") or {}).get("url"))
