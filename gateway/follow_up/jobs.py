"""The worker's PostgreSQL queue (``mospay.jobs``): no other infrastructure.

Jobs are claimed with ``FOR UPDATE SKIP LOCKED`` (many workers never take the
same one) and leased: the claim pushes ``run_at`` past the lease, so a worker
that dies mid-job gives it back when the lease ends. Each kind has a handler,
registered with ``@handler(kind)`` by the module that owns the work (this
module imports none of them), returning a ``JobResult``: done, queued again
after a delay, dead or manual. Periodic work that is no job (alert rules, folding the
rollups) is registered with ``schedule.periodic`` and run by the same loop.
"""

import logging
import time
from dataclasses import dataclass

from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.follow_up import schedule

log = logging.getLogger(__name__)
LEASE_SECONDS = 300


@dataclass
class JobResult:
    """What became of one run of a job."""

    state: str  # done, queued (again, after delay_seconds), dead, manual
    delay_seconds: float = 0
    last_status: int | None = None
    last_error: str | None = None
    payload: dict | None = None  # replaces the job's payload when given (e.g. the next step)


_HANDLERS = {}
def handler(kind):
    """Register the decorated ``function(rt, job) -> JobResult`` as the handler of jobs of ``kind``."""

    def register(function):
        _HANDLERS[kind] = function
        return function

    return register


def claim(rt, limit):
    """Take up to ``limit`` due jobs for this worker."""
    with rt.db.transaction() as conn:
        return conn.execute(Q.claim_jobs, {"limit": limit, "lease_seconds": LEASE_SECONDS}).fetchall()


def run_due(rt, limit=50):
    """Run the jobs due now, once each; returns how many ran."""
    jobs = claim(rt, limit)
    for job in jobs:
        try:
            result = _HANDLERS[job["kind"]](rt, job)
        except Exception as exc:  # noqa: BLE001 - one failing job must not stop the others
            log.exception("job %s (%s) failed", job["id"], job["kind"])
            result = JobResult("queued", delay_seconds=min(60 * job["attempts"], 3600),
                               last_error=f"worker error: {type(exc).__name__}")
        _finish(rt, job, result)
    return len(jobs)


def _finish(rt, job, result):
    with rt.db.connection() as conn:
        conn.execute(Q.finish_job, {"id": job["id"], "state": result.state, "delay_seconds": result.delay_seconds,
                                    "last_status": result.last_status,
                                    "last_error": (result.last_error or "")[:500] or None,
                                    "payload": Jsonb(result.payload) if result.payload is not None else None})
    log.info("job %s %s → %s", job["id"], job["kind"], result.state,
             extra={"job_id": job["id"], "job_kind": job["kind"], "job_state": result.state})


def work(rt, once=False, limit=50, poll_seconds=1.0, stop=None):
    """Run due jobs, and periodic tasks when their time comes, until stopped (``once``: until none is due now);
    returns how many jobs ran."""
    total = 0
    while stop is None or not stop.is_set():
        schedule.run_due(rt)  # before the jobs: an alert evaluated now has its notifications sent in this round
        ran = run_due(rt, limit)
        total += ran
        if once and ran < limit:
            return total  # a job re-queued with no delay waits for the next run
        if ran == 0:
            time.sleep(poll_seconds)
    return total
