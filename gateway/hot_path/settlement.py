"""The one home of a payment's state: the states, their HTTP statuses, the answer and ``settle``.

Every path that ends or changes a payment — the hot path, recovery of a
crashed worker's claim, an unknown-outcome follow-up, a provider callback —
builds a ``Settlement`` and calls ``settle``. That is one SQL statement: a
compare-and-set from the states the caller expects, plus, in the same
statement, the API log row, the unknown-outcome follow-up job and the
client's signed callback, as the caller asks. A payment whose state moved
meanwhile is left alone and ``settle`` returns ``None``.
"""

from dataclasses import dataclass, field

from psycopg.types.json import Jsonb

from gateway.db import Q, fetch_one_across_a_move

# Every state a payment can be in, declared here once.
RECEIVED = "RECEIVED"  # claimed: committed before anything is forwarded, no answer yet
PENDING = "PENDING"  # the provider accepted it and settles later
SUCCESS = "SUCCESS"
FAILED = "FAILED"
UNKNOWN = "UNKNOWN"  # the call may have reached the provider and no final answer came: never guessed
REJECTED = "REJECTED"  # the client's request function refused it; nothing was sent
STATES = (RECEIVED, PENDING, SUCCESS, FAILED, UNKNOWN, REJECTED)
ANSWER_STATES = (SUCCESS, FAILED, PENDING, UNKNOWN)  # what a response or callback function may answer
FINAL = (SUCCESS, FAILED)  # what settles a payment for good
OPEN = (PENDING, UNKNOWN)  # answered, still waiting for a final result

# HTTP status of each state when the switch itself has nothing to add.
STATUS_HTTP = {SUCCESS: 200, FAILED: 200, PENDING: 202, UNKNOWN: 502, REJECTED: 422}

DEFAULT_SCHEDULE = (30, 60, 120, 300, 600, 1800, 3600)
DEFAULT_DEADLINE_SECONDS = 86400


def answer_body(answer, ref, unique_id):
    """The body the client gets (and a replay repeats) for a function's normalised ``answer``."""
    return {**answer, "transaction_ref": ref, "unique_id": unique_id}


@dataclass
class ApiLog:
    """The HTTP facts of the request that ends a payment, logged in the same statement."""

    method: str
    path: str
    remote_addr: str
    duration_ms: float


@dataclass
class Settlement:
    """What a payment becomes: its state, the stored answer and what is known of the downstream call.

    ``None`` for ``downstream_*``, ``timings`` and ``provider_ref`` keeps what the row already holds.
    """

    status: str
    answer: dict
    http_status: int
    error_code: str | None = None
    error_detail: str | None = None
    downstream_request: dict | None = None
    downstream_status: int | None = None
    downstream_response: dict | None = None
    provider_ref: str | None = None
    timings: dict | None = field(default=None)
    routing: dict | None = None  # which rule chose which provider, and every failover (hot path only)
    trace_id: str | None = None  # the payment's OpenTelemetry trace, when tracing is on

    @classmethod
    def from_answer(cls, answer, ref, unique_id, detail=None, **downstream):
        """A settlement from a function's normalised answer (SUCCESS, FAILED, PENDING or UNKNOWN)."""
        return cls(answer["status"], answer_body(answer, ref, unique_id), STATUS_HTTP[answer["status"]],
                   error_detail=detail, **downstream)

    @classmethod
    def from_error(cls, error, status, detail=None, **downstream):
        """A settlement from a ``MosPayError`` whose body already carries the status and references."""
        return cls(status, error.to_dict(), error.status, error_code=error.code, error_detail=detail, **downstream)


# Transport headers say nothing about a payment: the response function still sees them, the stored copy
# (a row per payment, kept for months) does not (issue 16: bytes per payment).
TRANSPORT_HEADERS = frozenset({
    "date", "server", "connection", "keep-alive", "content-length", "transfer-encoding", "vary", "cache-control",
    "expires", "pragma", "strict-transport-security", "x-powered-by", "etag", "last-modified", "accept-ranges",
    "age", "alt-svc", "via", "x-content-type-options", "x-frame-options", "x-xss-protection", "referrer-policy",
    "content-security-policy"})


def stored_answer(answer):
    """The provider's answer as the row keeps it: without the transport headers."""
    headers = answer.get("headers")
    if not headers:
        return answer
    return {**answer, "headers": {k: v for k, v in headers.items() if k not in TRANSPORT_HEADERS}}


def unknown_outcome_job(policy, pending=False):
    """The follow-up job of an UNKNOWN payment under its route's ``on_unknown`` policy, or of a PENDING one
    under its ``on_pending`` schedule (``pending``: always the status query)."""
    schedule = list(policy.get("schedule") or DEFAULT_SCHEDULE)
    payload = {"policy": "status_query" if pending else policy["policy"], "schedule": schedule, "step": 0,
               "deadline_seconds": policy.get("deadline_seconds", DEFAULT_DEADLINE_SECONDS),
               "reversal_route": policy.get("reversal_route")}
    if pending:
        payload["pending"] = True
    manual = payload["policy"] == "manual"  # nothing runs: the job lists the payment for an operator
    return {"job": Jsonb(payload), "job_state": "manual" if manual else "queued",
            "job_delay": 0 if manual else schedule[0]}


def settle(conn, transaction_id, expected, settlement, *, route=None, notify_client=False, api_log=None,
           created_at=None):
    """Move a payment from one of the ``expected`` states to ``settlement`` in one statement.

    ``route``: an UNKNOWN result queues the route's ``on_unknown`` follow-up, a PENDING one its
    ``on_pending`` follow-up (routes with a status query).
    ``notify_client``: a final result queues the client's signed callback (the
    client was not answered synchronously). ``api_log``: the request's log row. ``created_at``: the row's,
    when known, so the statement reaches its one partition.
    Returns the settled row (id, client_id, ref, unique_id, status, answer,
    completed_at), or ``None`` when the payment was no longer in an expected state.
    """
    settings = route.context["route"] if route is not None else {}
    policy = {UNKNOWN: settings.get("on_unknown"), PENDING: settings.get("on_pending")}.get(settlement.status)
    job = unknown_outcome_job(policy, pending=settlement.status == PENDING) if policy else \
        {"job": None, "job_state": None, "job_delay": None}
    log = api_log or ApiLog(None, None, None, None)
    params = {
        "id": transaction_id, "created_at": created_at, "expected": list(expected), "status": settlement.status,
        "answer": Jsonb(settlement.answer), "http_status": settlement.http_status,
        "error_code": settlement.error_code, "error_detail": settlement.error_detail,
        "downstream_request": _jsonb(settlement.downstream_request),
        "downstream_status": settlement.downstream_status,
        "downstream_response": _jsonb(settlement.downstream_response),
        "provider_ref": settlement.provider_ref, "timings": _jsonb(settlement.timings),
        "routing": _jsonb(settlement.routing),
        "trace_id": settlement.trace_id,
        "notify": notify_client, "final": list(FINAL),
        "log_method": log.method, "log_path": log.path, "log_remote_addr": log.remote_addr,
        "log_duration_ms": log.duration_ms, **job,
    }
    # A row the maintenance just moved out of the DEFAULT partition reads as "not in an expected state": once more.
    # Compare-and-set still decides: a row that really left those states is not touched.
    return fetch_one_across_a_move(conn, Q.settle_transaction, params)


def _jsonb(value):
    return None if value is None else Jsonb(value)
