"""Periodic work of the worker (evaluating alert rules): each task runs once per period across every worker.

A task is registered with ``@periodic(name, every)`` by the module that owns the work (this module imports
none of them); ``every`` is seconds, or a function of the runtime's config giving them. ``run_due`` is called
by the job loop (``jobs.work``) on every round: a task whose period has come is claimed in
``mospay.schedules`` by one worker (a row lock decides) and run there.
"""

import logging

from gateway.db import Q

log = logging.getLogger(__name__)
_TASKS = {}


def periodic(name, every):
    """Register the decorated ``function(rt)`` to run every ``every`` seconds (a number or ``f(config)``)."""

    def register(function):
        _TASKS[name] = (function, every)
        return function

    return register


def run_due(rt):
    """Run the periodic tasks whose time has come (and that no other worker claimed); returns their names."""
    ran = []
    for name, (function, every) in _TASKS.items():
        seconds = every(rt.config) if callable(every) else every
        with rt.db.transaction() as conn:
            conn.execute(Q.ensure_schedule, {"name": name})
            claimed = conn.execute(Q.claim_schedule, {"name": name, "every_seconds": seconds}).fetchone()
        if claimed is None:
            continue
        try:
            function(rt)
        except Exception:  # noqa: BLE001 - a failing task must not stop the jobs; it runs again next period
            log.exception("periodic task %s failed", name)
        ran.append(name)
    return ran
