"""The hot path: one payment message from parsed body to stored answer.

parse → validate → resolve → claim → request function → forward →
response function → persist. The transaction row is committed before
anything is forwarded; a timeout is UNKNOWN, never FAILED.
"""

import hashlib
import logging
import os
import re
import socket
import time
from dataclasses import dataclass, field

import orjson
import psycopg
from psycopg.types.json import Jsonb

from gateway import metrics, tracing
from gateway.db import Q, direct
from gateway.errors import (
    AppIdMismatch,
    DatabaseUnavailable,
    InProgress,
    ModifiedRequest,
    MosPayError,
    ProviderNotConfigured,
    Rejected,
    RouteDisabled,
    RouteNotFound,
    UpstreamCircuitOpen,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from gateway.hot_path import routing, settlement
from gateway.hot_path.fields import ENVELOPE_SCHEMA, ENVELOPE_VALIDATOR, SECRET_CODES, validate_message
from gateway.hot_path.forwarder import MAX_CONNECT_SECONDS, FailureKind
from gateway.hot_path.pipeline import RoutePipeline, Stage, lap_timer, payment_currency
from gateway.hot_path.settlement import FAILED, RECEIVED, REJECTED, STATUS_HTTP, UNKNOWN, ApiLog, Settlement
from gateway.security.masking import (
    Secrets,
    mask_headers,
    mask_message,
    mask_msisdn,
    mask_paths,
    scrub_text,
    secret_values,
    values_at,
)

log = logging.getLogger(__name__)

UNIQUE_ID = re.compile(ENVELOPE_SCHEMA["f010"]["pattern"][1:-2])  # the f010 rule, without its anchors

# The stages the hot path times, in order, with what each covers; they add up to the total.
STAGES = {"auth": "authenticated and body read", "validate": "validated and route resolved",
          "claim": "unique id claimed", "token": "provider token (routes with a token step; cached)",
          "request_function": "request function",
          "forward": "forwarded and answered", "response_function": "response function",
          "answer": "answer built (up to the settlement)"}


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
    missing = route.missing_credentials
    if missing:  # refused before the claim: nothing is recorded, nothing is sent
        raise ProviderNotConfigured(missing)
    return route


class PaymentProcessor:
    """Runs the lifecycle of one message: the route, the claimed payment and what is known so far."""

    def __init__(self, rt, client, message, info):
        self.rt, self.client, self.message, self.info = rt, client, message, info
        self.secrets = Secrets()  # known once the route says which fields are secret
        self.timings = {}
        self.trace = tracing.start_payment(info.started)  # None unless tracing is configured
        self.lap = lap_timer(self.timings, info.started, self.trace.stage if self.trace else None)
        self.lap("auth")  # from the request's arrival: authentication and reading the body
        self.route = self.context = self.ref = self.transaction_id = self.masked = self.plan = None
        self.created_at = None  # the claimed row's, naming its partition (migration 0071)
        self.pipelines = []
        self.downstream_request = self.downstream_status = self.downstream_response = None
        self.error_detail = self.provider_ref = None

    def process(self):
        """Run every stage and return the client's ``Outcome``."""
        if self.trace is None:
            return self._process()
        try:
            return self._process()
        finally:
            route = self.route and routing.route_name(self.route)
            self.trace.end({"mospay.transaction_ref": self.ref and str(self.ref), "mospay.app_id": self.client.app_id,
                            "mospay.route": route, "mospay.unique_id": self.message.get("f010")})

    def _process(self):
        try:
            self.route = resolve(self.rt.registry, self.client, self.message)
            self.plan = routing.plan(self.rt.registry, self.route, self.message)
            self._know_secrets(self.plan.routes)
            self.lap("validate")
            with self.rt.db.connection() as conn:
                replay = self._claim(conn)
            self.lap("claim")
        except MosPayError as error:  # refused before the claim (invalid, in progress, modified): timed too
            self._time(error.headers)
            raise
        if replay is not None:
            self._time(replay.headers)
            return replay
        try:
            status, outcome = self._run_plan()
        except DatabaseUnavailable as error:
            status, outcome = (UNKNOWN if self._sent() else FAILED), self._error(error)
        except Exception:  # noqa: BLE001 - an accepted payment must still end in a recorded state
            log.exception("payment %s failed unexpectedly", self.ref)
            self.error_detail = "unexpected error in the switch; see the server log"
            status, outcome = (UNKNOWN if self._sent() else FAILED), self._error(MosPayError())
        outcome = self._finish(status, outcome)
        self._log(outcome)
        return outcome

    def _log(self, outcome):
        body, route = outcome.body, f"{self.route.microservice}.{self.route.service}.{self.route.route}"
        metrics.observe_payment(self.client.app_id, route, body["status"], self.timings)
        log.info("payment %s %s", self.ref, body["status"], extra={
            "transaction_ref": self.ref, "app_id": self.client.app_id, "unique_id": self.message["f010"],
            "route": route, "status": body["status"], "http_status": outcome.http_status,
            "error_code": body.get("error", {}).get("code"),
            "msisdn": mask_msisdn(msisdn) if (msisdn := self.message.get(self.route.msisdn_field or "")) else None,
            "timings_ms": self.timings})

    def _claim(self, conn):
        """Own (client, f010) and return ``None``, or the ``Outcome`` a repeated message gets."""
        params = {"client_id": self.client.id, "client_service_id": self.route.client_service_id,
                  "unique_id": self.message["f010"], "payload_hash": payload_hash(self.message),
                  "request": Jsonb(self.masked), "currency": payment_currency(self.route, self.message),
                  "lease_owner": worker_identity(),
                  "lease_seconds": lease_seconds(self.rt.config, self.plan.routes)}
        row = direct.fetch_one(conn, Q.claim_transaction, params, prepare=True)
        if row is not None:
            self.transaction_id, self.ref, self.created_at = row["id"], row["ref"], row["created_at"]
            return None
        existing = conn.execute(Q.find_claimed_transaction, params).fetchone()
        if existing is None:  # claimed and gone between two statements: cannot happen, but be exact
            raise InProgress()
        if bytes(existing["payload_hash"]) != params["payload_hash"]:
            raise ModifiedRequest(transaction_ref=existing["ref"])
        if existing["status"] == RECEIVED:
            raise InProgress(transaction_ref=existing["ref"])
        return Outcome(existing["http_status"], existing["answer"], {"Idempotent-Replayed": "true"})

    def _know_secrets(self, routes):
        """Secrets and the masked message, for the route named and every route it may fail over to."""
        involved = {id(route): route for route in (self.route, *routes)}
        codes = sorted({code for route in involved.values() for code in route.secret_codes})
        carried = secret_values(self.message, codes)
        # A route's callback token (the M-Pesa template copies it into CallBackURL) and its provider credentials
        # must not stay readable in the stored call: the named route's compiled once, those of the routes it may
        # fail over to and the message's own added as text.
        failover = [value for route in involved.values() if route is not self.route for value in route.secret_values]
        self.secrets = self.route.secrets.plus((*failover, *carried))
        self.masked = mask_message(self.message, codes)  # what is stored and shown

    def _sent(self):
        return self.pipelines[-1].sent if self.pipelines else False

    def _run_plan(self):
        """Run the plan's routes in order, moving on only while nothing has reached a provider."""
        for index, route in enumerate(self.plan.routes):
            if route.client_service_id != self.route.client_service_id:  # recovery must ask this route's provider
                with self.rt.db.connection() as conn:
                    conn.execute(Q.move_to_route, {"id": self.transaction_id, "created_at": self.created_at,
                                                   "client_service_id": route.client_service_id})
            self.route = route
            self.context = {**route.context, "transaction_ref": self.ref, "transaction_id": self.transaction_id,
                            "unique_id": self.message["f010"]}
            pipeline = RoutePipeline(self.rt, route, self.context, self.lap)
            self.pipelines.append(pipeline)
            run = pipeline.run(self.message, self.masked)
            if pipeline.token is not None:  # the provider token too, should a provider echo it back
                self.secrets = self.secrets.plus((pipeline.token,))
            unreached = _unreached(run)
            if unreached and index + 1 < len(self.plan.routes):
                self.plan.attempts.append({"route": routing.route_name(route), "outcome": f"not reached: {unreached}"})
                log.warning("payment %s: %s not reached (%s), failing over", self.ref, routing.route_name(route),
                            unreached)
                continue
            self.plan.attempts.append({"route": routing.route_name(route),
                                       "outcome": "sent" if run.sent else f"not reached: {unreached}" if unreached
                                       else run.kind})
            return self._run(run)
        raise AssertionError("a routing plan always has a route")  # pragma: no cover

    def _run(self, run):
        """``(status, Outcome)`` of the route run; the call and answer are kept for the record."""
        if run.spec is not None:
            self._record_call(run)
        if run.failure is not None:
            self.error_detail = scrub_text(run.failure.detail, self.secrets)
            error = run.failure.error
            error.message = scrub_text(error.message, self.secrets)
            # A request function failing means nothing was sent; a response function failing after the call
            # went out means the provider may have moved money.
            return (UNKNOWN if run.sent else FAILED), self._error(error)
        if run.kind == "reject":
            return REJECTED, self._error(Rejected(run.reject["message"], details={"reason": run.reject["code"]}))
        if run.result is not None and run.result.failure is FailureKind.CIRCUIT_OPEN:
            return FAILED, self._error(UpstreamCircuitOpen())
        self.provider_ref = provider_ref(run.answer, self.route)
        if run.result is not None and run.result.failure is not None:
            return self._transport_error(run.result.failure, run.answer)
        return run.answer["status"], Outcome(STATUS_HTTP[run.answer["status"]],
                                             settlement.answer_body(run.answer, self.ref, self.message["f010"]))

    def _record_call(self, run):
        spec = run.spec
        call = {"url": scrub_text(spec["url"], self.secrets), "method": spec["method"],
                "headers": mask_headers(spec["headers"]), "body": spec["body"], "timeout_ms": spec["timeout_ms"]}
        # What sits at the paths the call declared sensitive (a PIN block, a signature: not recognisable by
        # value) becomes a secret too, so a provider echoing it back is scrubbed like the rest.
        sensitive = spec.get("sensitive", ())
        if sensitive:
            self.secrets = self.secrets.plus(values_at(spec, sensitive))
        self.downstream_request = self.secrets.scrub(mask_paths(call, sensitive))
        if run.result is not None and run.result.failure is not FailureKind.CIRCUIT_OPEN:
            self.downstream_status = run.result.status_code
            self.downstream_response = self.secrets.scrub(settlement.stored_answer(run.result.as_json()))

    def _transport_error(self, kind, answer):
        # The switch, not the function, decides the state after a transport failure, and says what happened
        # when the call may have gone out (a template's "could not be reached" would mislead there).
        if kind is FailureKind.NOTHING_SENT:
            return FAILED, self._error(UpstreamUnavailable(answer["message"] or None))
        if kind is FailureKind.TIMEOUT:
            return UNKNOWN, self._error(UpstreamTimeout())
        return UNKNOWN, self._error(UpstreamUnavailable("The downstream call failed mid-flight; the outcome is "
                                                        "unknown."))

    def _error(self, error):
        error.transaction_ref = self.ref
        return Outcome(error.status, error.to_dict(), dict(error.headers))

    def _finish(self, status, outcome):
        """Settle the claimed payment (RECEIVED → ``status``) with its API log row, in one statement.

        A payment that left RECEIVED meanwhile (recovery settled it) keeps the stored state, which is
        what the client is answered. If the database is down, the error carries the reference.
        """
        # The last lap ends where the total does, so the stored stages add up to it exactly.
        self.timings["total"] = round((self.lap("answer") - self.info.started) * 1000, 3)
        # The answer is stored and replayed: no secret may ride in it, even echoed by a provider.
        body = self.secrets.scrub({**outcome.body, "status": status, "unique_id": self.message["f010"]})
        outcome = Outcome(outcome.http_status, body, outcome.headers)
        result = Settlement(status, body, outcome.http_status, error_code=body.get("error", {}).get("code"),
                            error_detail=self.error_detail, downstream_request=self.downstream_request,
                            downstream_status=self.downstream_status, downstream_response=self.downstream_response,
                            provider_ref=self.provider_ref, timings=self.timings,
                            routing=self.plan.record() if self.plan.rule or len(self.plan.attempts) > 1 else None,
                            trace_id=self.trace.trace_id if self.trace else None)
        api_log = ApiLog(self.info.method, self.info.path, self.info.remote_addr, self.timings["total"])
        try:
            settled = self._settle(result, api_log)
        except DatabaseUnavailable as error:
            # The row stays RECEIVED; `flask transactions recover` settles it.
            error.transaction_ref = self.ref
            raise
        if settled is None:
            outcome = self._stored_outcome()
        self.lap("finish")
        self._time(outcome.headers)
        return outcome

    def _time(self, headers):
        """Add the ``Server-Timing`` header of the stages run so far, with the total."""
        self.timings["total"] = round((time.perf_counter() - self.info.started) * 1000, 3)
        headers["Server-Timing"] = server_timing(self.timings)

    def _settle(self, result, api_log):
        try:
            with self.rt.db.connection() as conn:
                return settlement.settle(conn, self.transaction_id, (RECEIVED,), result, route=self.route,
                                         api_log=api_log, created_at=self.created_at)
        except psycopg.DataError:
            # Something the provider sent cannot be stored as jsonb: keep the outcome, drop the raw copy.
            log.warning("payment %s: downstream data could not be stored; recording the outcome only", self.ref)
            result.downstream_request = result.downstream_response = None
            with self.rt.db.connection() as conn:
                return settlement.settle(conn, self.transaction_id, (RECEIVED,), result, route=self.route,
                                         api_log=api_log, created_at=self.created_at)

    def _stored_outcome(self):
        row = self.rt.db.fetch_one(Q.find_claimed_transaction, {"client_id": self.client.id,
                                                                "unique_id": self.message["f010"]})
        log.warning("payment %s was settled %s by another path before its answer; answering that",
                    self.ref, row["status"])
        return Outcome(row["http_status"], row["answer"])


_HOST = socket.gethostname()
LEASE_GRACE_SECONDS = 10


_IDENTITY = [None, ""]  # (pid, identity): made again only in a new process (a fork)


def worker_identity():
    """Who holds a claim: host and process."""
    pid = os.getpid()
    if _IDENTITY[0] != pid:
        _IDENTITY[:] = [pid, f"{_HOST}:{pid}"]
    return _IDENTITY[1]


def lease_seconds(config, routes):
    """The longest this payment can stay in flight, plus a grace: both functions at their time limit, every
    attempt the most patient of the plan's ``routes`` allows at the longest call timeout (any of them may be
    the one that carries it), three pool waits, and for each route it may fail over from, its functions and
    the most its connection attempts can take. Known at claim time, so the lease never needs renewing."""
    calls = max(_calls(route) for route in routes)
    # A route failed over from took its token steps (a token step that timed out fails over) and its connects.
    failover = sum(2 * config.FUNCTION_TIMEOUT_MS / 1000 + 5 * MAX_CONNECT_SECONDS +
                   (2 * config.MAX_TIMEOUT_MS / 1000 if route.token_step is not None else 0) for route in routes[1:])
    return (2 * config.FUNCTION_TIMEOUT_MS + calls * config.MAX_TIMEOUT_MS) / 1000 + \
        3 * config.DB_POOL_TIMEOUT + LEASE_GRACE_SECONDS + failover


def _calls(route):
    """The most calls at the longest timeout one route can make: its retry attempts; with a token step, the
    token fetched, the call refused (401), the token fetched again and the call sent again."""
    attempts = max(1, min(int((route.context["route"].get("retry") or {}).get("max_attempts", 1)), 5))
    return attempts if route.token_step is None else 2 * (attempts + 1)


def _unreached(run):
    """Why nothing reached the provider (``connection``, ``circuit_open``, ``token step failed``), or ``None``
    when something may have."""
    if run.kind == "failed" and run.failure is not None and run.failure.stage is Stage.TOKEN:
        return "token step failed"
    if run.kind == "call" and run.result is not None and run.result.failure in (FailureKind.NOTHING_SENT,
                                                                                  FailureKind.CIRCUIT_OPEN):
        return run.result.failure.value
    return None


def provider_ref(answer, route):
    """The provider's own reference in a response function's answer (``data[route.provider_ref_field]``)."""
    value = answer["data"].get(route.provider_ref_field)
    return str(value)[:200] if isinstance(value, str | int) and not isinstance(value, bool) and value != "" else None


def server_timing(timings):
    """``Server-Timing`` header value from stage timings in ms."""
    return ", ".join(f"{stage};dur={ms}" for stage, ms in timings.items())
