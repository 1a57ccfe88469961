"""The integrators' API: one generic payment endpoint, its status, and tokens.

``POST /api/v1/payment/process`` is served by ``DirectPaymentPath``, in front of Flask: Flask's request context,
routing, session and response objects cost more of a payment's CPU than authenticating it, validating it and
settling it together (``bench/run.py --profile``). What Flask's hooks do for every other request is done there
through the same functions; the Flask view is the same three steps (``run_payment``).
"""

import logging
import time

import orjson
import psycopg
from flask import Blueprint, g, request
from werkzeug.datastructures import EnvironHeaders
from werkzeug.http import HTTP_STATUS_CODES

from gateway import metrics
from gateway.api import json_body, json_response
from gateway.db import Q
from gateway.errors import DatabaseUnavailable, MosPayError, Unauthorized, as_error
from gateway.hot_path.client_auth import authenticate_client, issue_client_token
from gateway.hot_path.payments import PaymentProcessor, RequestInfo
from gateway.hot_path.statement import statement, transaction_status
from gateway.jsondoc import parse_json_request, read_wsgi_body
from gateway.logs import request_id_from, request_id_var
from gateway.runtime import runtime
from gateway.security.headers import SECURITY_HEADERS

log = logging.getLogger(__name__)
bp = Blueprint("payment_api", __name__, url_prefix="/api/v1")
PROCESS_PATH = "/api/v1/payment/process"


@bp.before_request
def _start_clock():
    g.started = time.perf_counter()
    g.api_logged = False
    g.client = None


def run_payment(rt, state, headers, remote_addr, read_message, started):
    """Authenticate, read the message (``read_message()``), run it through the switch; the ``Outcome``.

    ``state`` records who the caller proved to be (``client``) and whether the payment wrote its own API log row
    with its settlement (``api_logged``): a replay, a refusal or an error is logged by the caller.
    """
    client = state.client = authenticate_client(rt, headers, remote_addr)
    message = read_message()
    info = RequestInfo("POST", PROCESS_PATH, remote_addr or "", started)
    outcome = PaymentProcessor(rt, client, message, info).process()
    state.api_logged = "Idempotent-Replayed" not in outcome.headers
    return outcome


@bp.post("/payment/process")
def process_payment():
    """Run one f000–f010 message through the switch (where the app runs without ``DirectPaymentPath``)."""
    outcome = run_payment(runtime(), g, request.headers, request.remote_addr, json_body, g.started)
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
    write_api_log(runtime(), g.get("client"), request.method, request.path, response.status_code, error_code,
                  g.get("started", time.perf_counter()), request.remote_addr)
    return response


def write_api_log(rt, client, method, path, http_status, error_code, started, remote_addr):
    """The API log row of a request the payment path did not log itself; a database failure only warns."""
    try:
        with rt.db.connection() as conn:
            conn.execute(Q.insert_api_log, {
                "client_id": client.id if client else None, "method": method, "path": path[:200],
                "http_status": http_status, "error_code": error_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3), "remote_addr": remote_addr,
            })
    except (DatabaseUnavailable, MosPayError, psycopg.Error):
        log.warning("could not write the API log row for %s %s", method, path)


class _Call:
    __slots__ = ("client", "api_logged")

    def __init__(self):
        self.client, self.api_logged = None, False


class DirectPaymentPath:
    """WSGI middleware: ``POST /api/v1/payment/process`` straight to ``run_payment``; every other request (and
    every other method on that path) goes on to Flask.

    It does for the payment what Flask's hooks do for other requests, through the same functions: the request id
    (``gateway.logs``), the one error map (``errors.as_error``), the API log row (``write_api_log``), the request
    counter (``metrics``) and the security headers.
    """

    def __init__(self, app, wsgi_app):
        self.app = app
        self.next = wsgi_app

    def __call__(self, environ, start_response):
        """Serve a payment, or hand the request on."""
        if environ.get("PATH_INFO") != PROCESS_PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.next(environ, start_response)
        started = time.perf_counter()
        headers = EnvironHeaders(environ)
        request_id = request_id_from(headers.get("X-Request-ID"))
        reset = request_id_var.set(request_id)
        try:  # every line this request logs, its API log row's warning included, carries its own id
            return self._serve(environ, start_response, headers, request_id, started)
        finally:
            request_id_var.reset(reset)

    def _serve(self, environ, start_response, headers, request_id, started):
        rt = self.app.extensions["mospay"]
        state, remote_addr = _Call(), environ.get("REMOTE_ADDR")
        limit = self.app.config["MAX_CONTENT_LENGTH"]
        mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
        try:
            outcome = run_payment(rt, state, headers, remote_addr,
                                  lambda: parse_json_request(read_wsgi_body(environ, limit), mimetype), started)
            status, answer, extra = outcome.http_status, outcome.body, outcome.headers
        except Exception as exc:  # noqa: BLE001 - every failure becomes the one JSON error shape
            error = as_error(exc)
            status, answer, extra = error.status, error.to_dict(), error.headers
        body = orjson.dumps(answer, default=str)
        if not state.api_logged:
            error_code = answer.get("error", {}).get("code") if status >= 400 and isinstance(answer, dict) else None
            write_api_log(rt, state.client, "POST", PROCESS_PATH, status, error_code, started, remote_addr)
        metrics.observe_request(PROCESS_PATH, "POST", status)
        response_headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *extra.items(), ("X-Request-ID", request_id)]
        response_headers += [item for item in SECURITY_HEADERS.items() if item[0] not in extra]
        start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'UNKNOWN')}", response_headers)
        return [body]
