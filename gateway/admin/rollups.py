"""Rollups of transactions (per hour × client × route × currency × state), kept current by the worker.

The payment path writes nothing for them. Every ``FOLD_SECONDS`` the worker folds the rows whose state
changed since they were last counted (``sql/queries/rollups.sql``: ``fold_rollups``, one statement per
batch). The dashboard and the settlement report read the rollups plus that not-yet-folded tail in one
snapshot (``report_settlement``, ``report_hourly``), so they are exact whether or not the worker is behind;
the fold only keeps the tail short, and with it the reports fast.
"""

import logging

from gateway.db import Q
from gateway.follow_up import schedule

log = logging.getLogger(__name__)

FOLD_SECONDS = 5
BATCH = 5000
MAX_BATCHES = 40  # per run: a backlog (a migration of old rows) is folded over several runs, jobs go on
# A claim's answer is normally written within its forward timeout: until then the fold leaves it alone.
CLAIM_GRACE_SECONDS = 120


@schedule.periodic("rollups", FOLD_SECONDS)
def fold(rt, batch=BATCH, max_batches=MAX_BATCHES, claim_grace_seconds=CLAIM_GRACE_SECONDS):
    """Fold changed transactions into the rollups, ``batch`` rows per transaction; returns how many."""
    total = 0
    for _ in range(max_batches):
        with rt.db.transaction() as conn:
            conn.execute(Q.lock_transactions_for_fold)
            folded = conn.execute(Q.fold_rollups, {"limit": batch,
                                                   "claim_grace_seconds": claim_grace_seconds}).fetchone()["folded"]
        total += folded
        if folded < batch:
            break
    if total:
        log.debug("folded %s transactions into the rollups", total)
    return total
