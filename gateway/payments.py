"""The hot path: one payment message from parsed body to stored answer.

parse → validate → resolve → claim → request function → forward →
response function → persist. The transaction row is committed before
anything is forwarded; a timeout is UNKNOWN, never FAILED.
"""

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field

import orjson
import psycopg
from psycopg.types.json import Jsonb

from gateway import call_spec, metrics
from gateway.db import Q
from gateway.errors import (
    AppIdMismatch,
    DatabaseUnavailable,
    FunctionError,
    InProgress,
    InvalidCallSpec,
    ModifiedRequest,
    MosPayError,
    Rejected,
    RouteDisabled,
    RouteNotFound,
    TransactionNotFound,
    UpstreamCircuitOpen,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.fields import ENVELOPE_SCHEMA, ENVELOPE_VALIDATOR, SECRET_CODES, validate_message
from gateway.forwarder import CIRCUIT_OPEN, NOTHING_SENT
from gateway.functions import runner
from gateway.masking import mask_headers, mask_message, mask_msisdn, scrub, scrub_text, secret_values

log = logging.getLogger(__name__)

UNIQUE_ID = re.compile(ENVELOPE_SCHEMA["f010"]["pattern"][1:-2])  # the f010 rule, without its anchors

# HTTP status of each final state when the switch itself has nothing to add.
STATUS_HTTP = {"SUCCESS": 200, "FAILED": 200, "PENDING": 202, "UNKNOWN": 502, "REJECTED": 422}


@dataclass
class Outcome:
    """What the API layer sends back."""

    http_status: int
    body: dict
    headers: dict = field(default_factory=dict)


@dataclass
class RequestInfo:
    """The HTTP facts the API log records."""

    method: str
    path: str
    remote_addr: str
    started: float


def payload_hash(message):
    """Canonical hash of a message: key order ignored, secrets left out."""
    canonical = {k: v for k, v in message.items() if k not in SECRET_CODES}
    return hashlib.sha256(orjson.dumps(canonical, option=orjson.OPT_SORT_KEYS)).digest()


def resolve(registry, client, message):
    """Validate the envelope and find the route, or raise the precise error."""
    validate_message(ENVELOPE_VALIDATOR, message)
    if message["f003"] != client.app_id:
        raise AppIdMismatch()
    route = registry.route(client.app_id, message["f000"], message["f001"], message["f002"])
    if route is None:
        raise RouteNotFound()
    if not route.enabled:
        raise RouteDisabled()
    validate_message(route.validator, message)
    return route


class PaymentProcessor:
    """Runs the lifecycle for one message; holds only per-call state."""

    def __init__(self, rt, client, message, info):
        self.rt, self.client, self.message, self.info = rt, client, message, info
        self.secrets = secret_values(message)
        self.timings = {}
        self.sent = False  # True once the call may have reached the provider
        self._mark = time.perf_counter()

    def _lap(self, stage):
        now = time.perf_counter()
        self.timings[stage] = round((now - self._mark) * 1000, 3)
        self._mark = now

    def process(self):
        """Run every stage and return the client's ``Outcome``."""
        route = resolve(self.rt.registry, self.client, self.message)
        self._lap("validate")
        with self.rt.db.connection() as conn:
            claimed = self._claim(conn, route)
        self._lap("claim")
        if isinstance(claimed, Outcome):
            return claimed
        transaction_id, ref = claimed
        context = {**route.context, "transaction_ref": ref, "transaction_id": transaction_id,
                   "unique_id": self.message["f010"]}
        record = {"transaction_id": transaction_id, "downstream_request": None, "downstream_status": None,
                  "downstream_response": None, "error_detail": None, "provider_ref": None}
        try:
            outcome = self._run(route, context, ref, record)
        except DatabaseUnavailable as error:
            outcome = self._error("UNKNOWN" if self.sent else "FAILED", error, ref)
        except Exception:  # noqa: BLE001 - an accepted payment must still end in a recorded state
            log.exception("payment %s failed unexpectedly", ref)
            record["error_detail"] = "unexpected error in the switch; see the server log"
            outcome = self._error("UNKNOWN" if self.sent else "FAILED", MosPayError(), ref)
        self._finish(outcome, record, ref, route)
        self._log(route, ref, outcome)
        return outcome

    def _log(self, route, ref, outcome):
        body = outcome.body
        metrics.observe_payment(self.client.app_id, f"{route.microservice}.{route.service}.{route.route}",
                                body["status"], self.timings)
        log.info("payment %s %s", ref, body["status"], extra={
            "transaction_ref": ref, "app_id": self.client.app_id, "unique_id": self.message["f010"],
            "route": f"{route.microservice}.{route.service}.{route.route}", "status": body["status"],
            "http_status": outcome.http_status, "error_code": body.get("error", {}).get("code"),
            "msisdn": mask_msisdn(self.message["f006"]) if self.message.get("f006") else None,
            "timings_ms": self.timings})

    def _run(self, route, context, ref, record):
        with self.rt.functions_db.connection() as conn:
            prepared = self._prepare(conn, route, context, ref, record)
        if isinstance(prepared, Outcome):
            return prepared
        self.sent = True
        # No database connection is held while the downstream answers.
        response = self.rt.forwarder.call(prepared, route.context["route"].get("retry"))
        if response.get("error") == CIRCUIT_OPEN:
            self.sent = False
            return self._error("FAILED", UpstreamCircuitOpen(), ref)
        self._lap("forward")
        record["downstream_status"] = response.get("status_code")
        record["downstream_response"] = _jsonb(scrub(response, self.secrets))
        with self.rt.functions_db.connection() as conn:
            return self._answer(conn, route, context, ref, response, record)

    def _claim(self, conn, route):
        params = {"client_id": self.client.id, "client_service_id": route.client_service_id,
                  "unique_id": self.message["f010"], "payload_hash": payload_hash(self.message),
                  "request": _jsonb(mask_message(self.message))}
        row = conn.execute(Q.claim_transaction, params).fetchone()
        if row is not None:
            return row["id"], row["ref"]
        existing = conn.execute(Q.find_claimed_transaction, params).fetchone()
        if existing is None:  # claimed and gone between two statements: cannot happen, but be exact
            raise InProgress()
        if bytes(existing["payload_hash"]) != params["payload_hash"]:
            raise ModifiedRequest(transaction_ref=existing["ref"])
        if existing["status"] == "RECEIVED":
            raise InProgress(transaction_ref=existing["ref"])
        return Outcome(existing["http_status"], existing["answer"], {"Idempotent-Replayed": "true"})

    def _prepare(self, conn, route, context, ref, record):
        """The validated call spec to forward, or the ``Outcome`` that ends the payment here."""
        try:
            result = runner.call(conn, route.request_sql, (self.message, context), self.rt.config.FUNCTION_TIMEOUT_MS)
            kind, spec = call_spec.parse_call_spec(result, self.rt.config.MAX_TIMEOUT_MS)
        except runner.FunctionFailure as failure:
            # Nothing was forwarded: no money moved, the payment failed.
            record["error_detail"] = scrub_text(failure.detail, self.secrets)
            failure.error.message = scrub_text(failure.error.message, self.secrets)
            return self._error("FAILED", failure.error, ref)
        except ValueError as problem:
            record["error_detail"] = str(problem)
            return self._error("FAILED", InvalidCallSpec(), ref)
        self._lap("request_function")
        if kind == "reject":
            return self._error("REJECTED", Rejected(spec["message"], details={"reason": spec["code"]}), ref)
        if kind == "answer":  # the function answered itself: nothing is forwarded
            record["provider_ref"] = provider_ref(spec, route)
            body = {**spec, "transaction_ref": ref, "unique_id": self.message["f010"]}
            return Outcome(STATUS_HTTP[spec["status"]], body)
        record["downstream_request"] = _jsonb(scrub(
            {"url": scrub_text(spec["url"], self.secrets), "method": spec["method"],
             "headers": mask_headers(spec["headers"]), "body": spec["body"], "timeout_ms": spec["timeout_ms"]},
            self.secrets))
        return spec

    def _answer(self, conn, route, context, ref, response, record):
        masked = mask_message(self.message)
        nothing_sent = response.get("error") == NOTHING_SENT
        try:
            result = runner.call(conn, route.response_sql, (masked, response, context),
                                 self.rt.config.FUNCTION_TIMEOUT_MS)
            answer = call_spec.parse_answer(result)
        except (runner.FunctionFailure, ValueError) as problem:
            detail = problem.detail if isinstance(problem, runner.FunctionFailure) else str(problem)
            record["error_detail"] = scrub_text(detail, self.secrets)
            # The call went out: the provider may have moved money, so the outcome is unknown.
            status = "FAILED" if nothing_sent else "UNKNOWN"
            return self._error(status, FunctionError("The route's response function failed."), ref)
        self._lap("response_function")
        record["provider_ref"] = provider_ref(answer, route)
        if "error" in response:
            return self._transport_error(response["error"], answer, ref)
        body = {**answer, "transaction_ref": ref, "unique_id": self.message["f010"]}
        return Outcome(STATUS_HTTP[answer["status"]], body)

    def _transport_error(self, kind, answer, ref):
        # The switch, not the function, decides the state after a transport failure.
        if kind == NOTHING_SENT:
            return self._error("FAILED", UpstreamUnavailable(answer["message"] or None), ref)
        return self._error("UNKNOWN", UpstreamTimeout(answer["message"] or None) if kind == "timeout"
                           else UpstreamUnavailable("The downstream call failed mid-flight; the outcome is unknown."),
                           ref)

    def _error(self, status, error, ref):
        error.transaction_ref = ref
        error.extra = {"status": status, "unique_id": self.message["f010"]}
        return Outcome(error.status, error.to_dict(), dict(error.headers))

    def _finish(self, outcome, record, ref, route):
        """Store the final state and the API log row; if the database is down, say so with the ref.

        An UNKNOWN payment on a route with an ``on_unknown`` policy also queues its follow-up job, in
        the same statement: no extra round trip, and never a payment without its follow-up.
        """
        self.timings["total"] = round((time.perf_counter() - self.info.started) * 1000, 3)
        # The answer is stored and replayed: no secret may ride in it, even echoed by a provider.
        body = outcome.body = scrub(outcome.body, self.secrets)
        params = {
            **record, "status": body["status"], "answer": _jsonb(body), "http_status": outcome.http_status,
            "error_code": body["error"]["code"] if "error" in body else None, "timings": _jsonb(self.timings),
            "method": self.info.method, "path": self.info.path, "duration_ms": self.timings["total"],
            "remote_addr": self.info.remote_addr, "job": None, "job_state": None, "job_delay": None,
        }
        policy = route.context["route"].get("on_unknown") if body["status"] == "UNKNOWN" else None
        if policy:
            params.update(unknown_outcome_job(policy))
        query = Q.finish_transaction
        try:
            try:
                with self.rt.db.connection() as conn:
                    conn.execute(query, params)
            except psycopg.DataError:
                # Something the provider sent cannot be stored as jsonb: keep the outcome, drop the raw copy.
                log.warning("payment %s: downstream data could not be stored; recording the outcome only", ref)
                with self.rt.db.connection() as conn:
                    conn.execute(query, {**params, "downstream_request": None, "downstream_response": None})
        except DatabaseUnavailable as error:
            # The row stays RECEIVED; `flask transactions recover` settles it.
            error.transaction_ref = ref
            raise
        self._lap("finish")
        self.timings["total"] = round((time.perf_counter() - self.info.started) * 1000, 3)
        outcome.headers["Server-Timing"] = server_timing(self.timings)


DEFAULT_SCHEDULE = (30, 60, 120, 300, 600, 1800, 3600)
DEFAULT_DEADLINE_SECONDS = 86400


def unknown_outcome_job(policy):
    """Parameters of the follow-up job of an UNKNOWN payment under the route's ``on_unknown`` policy."""
    schedule = list(policy.get("schedule") or DEFAULT_SCHEDULE)
    payload = {"policy": policy["policy"], "schedule": schedule, "step": 0,
               "deadline_seconds": policy.get("deadline_seconds", DEFAULT_DEADLINE_SECONDS),
               "reversal_route": policy.get("reversal_route")}
    manual = policy["policy"] == "manual"  # nothing runs: the job lists the payment for an operator
    return {"job": Jsonb(payload), "job_state": "manual" if manual else "queued",
            "job_delay": 0 if manual else schedule[0]}


def provider_ref(answer, route):
    """The provider's own reference in a response function's answer (``data[route.provider_ref_field]``)."""
    value = answer["data"].get(route.provider_ref_field)
    return str(value)[:200] if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def _jsonb(value):
    return None if value is None else Jsonb(value)


def server_timing(timings):
    """``Server-Timing`` header value from stage timings in ms."""
    return ", ".join(f"{stage};dur={ms}" for stage, ms in timings.items())


def transaction_status(db, client, unique_id):
    """The stored state and answer of a client's transaction."""
    if not UNIQUE_ID.fullmatch(unique_id):
        raise TransactionNotFound()
    row = db.fetch_one(Q.transaction_status, {"client_id": client.id, "unique_id": unique_id})
    if row is None:
        raise TransactionNotFound()
    return {"transaction_ref": row["ref"], "unique_id": row["unique_id"], "status": row["status"],
            "answer": row["answer"], "created_at": row["created_at"].isoformat(),
            "completed_at": row["completed_at"].isoformat() if row["completed_at"] else None}
