"""Following up a payment that ended UNKNOWN (its route's ``on_unknown`` policy) or PENDING (``on_pending``).

A PENDING payment of a route with a status query is asked about on the
``on_pending`` schedule until the provider gives a final state; past the deadline
it becomes UNKNOWN and is left for an operator. What follows is about UNKNOWN.

The job is queued with the payment's final write (``finish_transaction``, same statement).
``status_query`` asks the provider on the route's schedule until a final state or the
deadline; ``reverse`` sends a reversal through the named route of the same
microservice and service, again on the schedule, and a successful reversal makes the
payment FAILED (``REVERSED``); ``manual`` only lists the payment. A payment that
became final meanwhile (a provider callback) ends the job; past the deadline the job
is left ``manual`` for an operator. Money is never guessed: only SUCCESS or FAILED
from the provider settles a payment, and only one that is still UNKNOWN.
"""

import logging
from datetime import UTC, datetime

from gateway.admin import keyset, lists
from gateway.db import Q
from gateway.errors import OutcomeUnknown, ValidationFailed
from gateway.follow_up import jobs, status_query
from gateway.follow_up.jobs import JobResult
from gateway.hot_path.pipeline import RoutePipeline
from gateway.hot_path.settlement import FAILED, PENDING, SUCCESS, UNKNOWN, Settlement, settle

log = logging.getLogger(__name__)
STATES = ("queued", "done", "manual")


@jobs.handler("unknown_outcome")
def follow_up(rt, job):
    """Run one step of the policy; a ``JobResult`` says what next."""
    payload = job["payload"]
    expected = PENDING if payload.get("pending") else UNKNOWN
    row = rt.db.fetch_one(Q.transaction_to_follow_up, {"id": job["transaction_id"]})
    if row is None or row["status"] != expected:
        return JobResult("done", last_error=f"already {row['status']}" if row else "no such payment")
    route = rt.registry.route(row["app_id"], row["microservice"], row["service"], row["route"])
    if route is None:
        return JobResult("manual", last_error="the route is not loaded (client inactive or route removed)")
    if payload["policy"] == "status_query":
        run = status_query.ask_provider(rt, route, row, "follow_up")
        if run:
            return _settle(rt, row, run.answer, f"settled by status query (on_{expected.lower()})", expected)
        result = _next(job, "no final answer from the status query yet")
        if expected == PENDING and result.state == "manual":
            _give_up_pending(rt, row)
        return result
    if payload["policy"] == "reverse":
        return _reverse(rt, row, job)
    return JobResult("manual", last_error="policy manual: check with the provider")


def _next(job, reason):
    """Queue the next step on the schedule (its last interval repeats), or stop at the deadline."""
    payload = job["payload"]
    step = payload.get("step", 0) + 1
    schedule = payload["schedule"]
    delay = schedule[min(step, len(schedule) - 1)]
    elapsed = (datetime.now(UTC) - job["created_at"]).total_seconds()
    if elapsed + delay > payload["deadline_seconds"]:
        log.warning("payment follow-up %s reached its deadline: left for an operator", job["id"])
        return JobResult("manual", last_error=f"deadline passed: {reason}")
    return JobResult("queued", delay_seconds=delay, last_error=reason, payload={**payload, "step": step})


def _settle(rt, row, answer, detail, expected=UNKNOWN):
    """``expected`` → the provider's final state, only if still ``expected``; the client is told by callback.
    Whichever comes first, this or a provider callback, wins: the other finds the payment final."""
    with rt.db.connection() as conn:
        settled = settle(conn, row["id"], (expected,), Settlement.from_answer(answer, row["ref"], row["unique_id"],
                                                                              detail), notify_client=True,
                         created_at=row.get("created_at"))
    if settled is None:
        return JobResult("done", last_error="already final")
    log.info("payment %s %s → %s (%s)", row["ref"], expected, answer["status"], detail,
             extra={"transaction_ref": row["ref"], "status": answer["status"]})
    return JobResult("done")


def _give_up_pending(rt, row):
    """PENDING past its deadline → UNKNOWN: money may have moved, an operator decides (no new follow-up)."""
    error = OutcomeUnknown("The provider gave no final result before the deadline; an operator will check.",
                           transaction_ref=row["ref"], extra={"status": UNKNOWN, "unique_id": row["unique_id"]})
    with rt.db.connection() as conn:
        settle(conn, row["id"], (PENDING,), Settlement.from_error(error, UNKNOWN, "on_pending deadline passed"),
               created_at=row.get("created_at"))


def _reverse(rt, row, job):
    """Send the reversal through the named route; its SUCCESS makes the payment FAILED (REVERSED)."""
    reversal = rt.registry.route(row["app_id"], row["microservice"], row["service"], job["payload"]["reversal_route"])
    if reversal is None:
        return JobResult("manual", last_error=f"no route {job['payload']['reversal_route']!r} to reverse through")
    context = {**reversal.context, "transaction_ref": row["ref"], "transaction_id": row["id"],
               "unique_id": row["unique_id"],
               "reversal_of": {"transaction_ref": row["ref"], "unique_id": row["unique_id"], "answer": row["answer"]}}
    run = RoutePipeline(rt, reversal, context).run(row["request"])
    if run.kind == "reject":
        return JobResult("manual", last_error=f"the reversal function refused: {run.reject['code']}")
    if run.failure is not None:
        return _next(job, f"reversal function failed: {run.failure.detail}"[:300])
    if run.answer is None:
        return _next(job, "the provider's circuit is open: the reversal was not sent")
    answer = run.answer
    if answer["status"] == SUCCESS:
        reversed_answer = {"status": FAILED, "code": "REVERSED", "message": "The payment was reversed.",
                           "data": {"reversal": {"code": answer["code"], "data": answer["data"]}}}
        return _settle(rt, row, reversed_answer, f"reversed through route {reversal.route}")
    return _next(job, f"reversal answered {answer['status']} {answer['code']}")


def follow_ups_page(rt, app_id=None, state=None, limit=100, cursors=None):
    """A keyset page of unknown-outcome follow-ups, newest first (``manual``: waiting for an operator)."""
    if state is not None and state not in STATES:
        raise ValidationFailed(details={"state": f"must be one of {', '.join(STATES)}"})
    after, before = cursors or (None, None)
    page = keyset.fetch_page(rt.db, lists.jobs_query("unknown_outcome", app_id, state), lists.J.c.created_at,
                             lists.J.c.id, after=after, before=before, per_page=max(1, min(int(limit), 500)))
    page.items = [{**row, **{k: row[k].isoformat() if row[k] else None for k in ("run_at", "created_at", "updated_at")}}
                  for row in page.items]
    return page


def list_follow_ups(rt, app_id=None, state=None, limit=100):
    """The newest unknown-outcome follow-ups (the first page of ``follow_ups_page``)."""
    return follow_ups_page(rt, app_id, state, limit).items
