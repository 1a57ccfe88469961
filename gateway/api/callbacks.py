"""Providers' notifications: POST /api/v1/callbacks/<app_id>/<microservice>/<route>?token=<route's token>."""

import logging
import time

import psycopg
from flask import Blueprint, g, request

from gateway.api import json_response
from gateway.db import Q
from gateway.errors import DatabaseUnavailable, MosPayError
from gateway.follow_up import provider_callbacks as callbacks
from gateway.jsondoc import read_body
from gateway.runtime import runtime

log = logging.getLogger(__name__)
bp = Blueprint("callbacks_api", __name__, url_prefix="/api/v1/callbacks")


@bp.before_request
def _start_clock():
    g.started = time.perf_counter()
    g.callback = None


@bp.route("/<app_id>/<microservice>/<route>", methods=["POST", "PUT"])  # MTN MoMo notifies with PUT
def provider_callback(app_id, microservice, route):
    """Run the route's CALLBACK function on a provider's notification and settle the payment."""
    outcome = g.callback = callbacks.receive(runtime(), app_id, microservice, route,
                                             read_body(request), request.headers,
                                             request.args.get("token"))
    return json_response(outcome.body, outcome.http_status)


@bp.after_request
def _write_api_log(response):
    # Every notification, accepted or refused, leaves an API log row (the payment's, when one was found).
    outcome = g.get("callback")
    error_code = None
    if response.status_code >= 400 and response.is_json:
        error_code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
    elif outcome is not None and outcome.outcome != "applied":
        error_code = f"CALLBACK_{outcome.outcome.upper()}"
    try:
        with runtime().db.connection() as conn:
            conn.execute(Q.insert_callback_api_log, {
                "transaction_id": outcome.transaction_id if outcome else None,
                "client_id": outcome.client_id if outcome else None, "method": request.method,
                "path": request.path[:200], "http_status": response.status_code, "error_code": error_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3),
                "remote_addr": request.remote_addr})
    except (DatabaseUnavailable, MosPayError, psycopg.Error):
        log.warning("could not write the API log row for %s %s", request.method, request.path)
    return response
