"""The integrators' API: one generic payment endpoint, its status, and tokens."""

import logging
import time

import psycopg
from flask import Blueprint, g, request

from gateway.api import json_body, json_response
from gateway.db import Q
from gateway.errors import DatabaseUnavailable, MosPayError, Unauthorized
from gateway.hot_path.client_auth import authenticate_client, issue_client_token
from gateway.hot_path.payments import PaymentProcessor, RequestInfo
from gateway.hot_path.statement import statement, transaction_status
from gateway.runtime import runtime

log = logging.getLogger(__name__)
bp = Blueprint("payment_api", __name__, url_prefix="/api/v1")


@bp.before_request
def _start_clock():
    g.started = time.perf_counter()
    g.api_logged = False
    g.client = None


@bp.post("/payment/process")
def process_payment():
    """Run one f000–f010 message through the switch."""
    rt = runtime()
    client = g.client = authenticate_client(rt, request.headers, request.remote_addr)
    message = json_body()
    info = RequestInfo(request.method, request.path, request.remote_addr or "", g.started)
    outcome = PaymentProcessor(rt, client, message, info).process()
    g.api_logged = "Idempotent-Replayed" not in outcome.headers
    return json_response(outcome.body, outcome.http_status, outcome.headers)


@bp.get("/payment/status/<unique_id>")
def payment_status(unique_id):
    """The state and answer of the caller's transaction with this f010."""
    rt = runtime()
    client = g.client = authenticate_client(rt, request.headers, request.remote_addr)
    return json_response(transaction_status(rt.db, client, unique_id))


@bp.get("/payments")
def payment_statement():
    """The caller's own payments, newest first (?from=&to=&status=&limit=&cursor=)."""
    rt = runtime()
    client = g.client = authenticate_client(rt, request.headers, request.remote_addr)
    return json_response(statement(rt.db, client, request.args))


@bp.post("/auth/token")
def client_token():
    """A JWT for Basic + App-ID credentials (a token cannot renew itself)."""
    rt = runtime()
    if request.headers.get("Authorization", "")[:6].lower() != "basic ":
        raise Unauthorized("Send Basic credentials and the App-ID header.")
    client = g.client = authenticate_client(rt, request.headers, request.remote_addr)
    return json_response(issue_client_token(rt, client))


@bp.after_request
def _write_api_log(response):
    # Payments write their API log with the transaction; everything else is logged here.
    if g.get("api_logged"):
        return response
    error_code = None
    if response.status_code >= 400 and response.is_json:
        error_code = (response.get_json(silent=True) or {}).get("error", {}).get("code")
    try:
        with runtime().db.connection() as conn:
            conn.execute(Q.insert_api_log, {
                "client_id": g.client.id if g.get("client") else None, "method": request.method,
                "path": request.path[:200], "http_status": response.status_code, "error_code": error_code,
                "duration_ms": round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 3),
                "remote_addr": request.remote_addr,
            })
    except (DatabaseUnavailable, MosPayError, psycopg.Error):
        log.warning("could not write the API log row for %s %s", request.method, request.path)
    return response
