"""Time partitions of the four large tables: made ahead, and dropped whole past their retention.

Migration 0071 partitions ``transactions``, ``api_logs``, ``provider_callbacks`` and ``audit_log`` by
``created_at``. The embedded PostgreSQL has no pg_partman or pg_cron, so the worker does it: ``maintain``
runs on the worker's schedule (every ``PARTITION_EVERY_SECONDS``, and at once when a worker starts after a
pause that long) and from ``flask partitions maintain``. The DDL goes through the owner's SECURITY DEFINER
helpers (migration 0070): the app role cannot create or drop tables itself.

- Partitions of ``PARTITION_DAYS`` days exist from now to ``PARTITION_AHEAD_DAYS`` ahead. Rows that landed in a
  DEFAULT partition (the worker was down) are moved into real partitions made for them, and reported.
- With ``RETAIN_<TABLE>_DAYS`` set, a partition whose whole range is older is written to
  ``ARCHIVE_DIR/<partition>.csv.gz`` (when set; written to a temporary name and renamed) and only then dropped.
  The keys of dropped payments go too, in batches: a unique id may then be used again (the replay window is
  the transactions' retention). Finished jobs older than the callbacks' retention are deleted in batches.
"""

import datetime as dt
import gzip
import logging
import os
from pathlib import Path

import psycopg

from gateway.db import Q
from gateway.follow_up import schedule

log = logging.getLogger(__name__)

TABLES = ("transactions", "api_logs", "provider_callbacks", "audit_log")
RETENTION = {"transactions": "RETAIN_TRANSACTIONS_DAYS", "api_logs": "RETAIN_API_LOGS_DAYS",
             "provider_callbacks": "RETAIN_CALLBACKS_DAYS", "audit_log": "RETAIN_AUDIT_DAYS"}
BATCH = 5000
DEFAULT_ROWS_CAP = 10000  # enough to tell "a few strays" from "maintenance stopped"; bounded work per scrape


@schedule.periodic("partitions", lambda config: config.PARTITION_EVERY_SECONDS)
def maintain(rt):
    """Make partitions ahead, empty the DEFAULT partitions, apply retention; returns what was done.

    One run at a time across workers and instances (a session advisory lock; a run that finds it taken does
    nothing). A table whose step fails (a lock not granted in time) is reported and tried again next run; the
    others go on."""
    report = {"made": 0, "dropped": [], "kept": [], "keys_deleted": 0, "jobs_deleted": 0, "failed": []}
    with rt.db.connection() as lock:
        if not lock.execute(Q.try_partition_maintenance_lock).fetchone()["locked"]:
            report["skipped"] = "another maintenance run holds the lock"
            return report
        try:
            report["made"] = ensure_ahead(rt, failed=report["failed"])
            for table in TABLES:
                days = getattr(rt.config, RETENTION[table])
                if days > 0:
                    _guarded(report["failed"], table, expire, rt, table, days, report)
            retain_callbacks = rt.config.RETAIN_CALLBACKS_DAYS
            if retain_callbacks > 0:
                report["jobs_deleted"] = _in_batches(rt, Q.delete_finished_jobs, {"retain_days": retain_callbacks})
            if rt.config.RETAIN_TRANSACTIONS_DAYS > 0:
                # Not only this run's drops: keys a failed run left behind go too (older than every kept payment).
                report["keys_deleted"] = _in_batches(rt, Q.delete_payment_keys, {})
        finally:
            lock.execute(Q.release_partition_maintenance_lock)
    if report["made"] or report["dropped"] or report["kept"] or report["failed"]:
        log.info("partitions: made %s, dropped %s, kept (open payments) %s, failed %s", report["made"],
                 [d["partition"] for d in report["dropped"]], report["kept"], report["failed"])
    return report


def _guarded(failed, table, step, *args):
    """Run one table's step; a database error (a lock not granted in 500 ms) is logged and the run goes on."""
    try:
        return step(*args)
    except psycopg.Error as error:
        log.warning("partitions: %s of %s failed, tried again next run: %s", step.__name__, table, error)
        failed.append({"table": table, "step": step.__name__, "error": str(error).splitlines()[0]})
        return None


def ensure_ahead(rt, now=None, failed=None):
    """Partitions from now (or from a DEFAULT partition's oldest row) to the days ahead; returns how many made.
    With ``failed`` (a list), a table whose step fails is recorded there and the others go on."""
    now = now or dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(days=rt.config.PARTITION_AHEAD_DAYS)
    stray = {row["parent"]: row for row in rt.db.fetch_all(Q.default_partition_rows)}
    made = 0
    for table in TABLES:
        start = now
        if stray[table]["n"]:
            # The worker was away and payments landed in the safety net: give them partitions of their own.
            log.warning("partitions: %s_default holds %s rows (oldest %s): moving them into partitions",
                        table, stray[table]["n"], stray[table]["oldest"])
            start = max(min(stray[table]["oldest"], now), now - dt.timedelta(days=4 * 365))
        if failed is None:
            made += ensure(rt, table, start, until)
        else:
            made += _guarded(failed, table, ensure, rt, table, start, until) or 0
    return made


def ensure(rt, table, start, until):
    """Make the partitions of ``table`` that [start, until) still lacks (owner's helper); returns how many."""
    with rt.db.transaction() as conn:
        return conn.execute(Q.ensure_partitions, {"table": table, "from": start, "until": until,
                                                  "days": rt.config.PARTITION_DAYS}).fetchone()["made"]


def expire(rt, table, retain_days, report=None):
    """Archive (``ARCHIVE_DIR``) and drop the partitions of ``table`` older than ``retain_days``; returns them.

    A transactions partition that still holds an open payment (or one a job still follows) is kept, whatever its
    age, and listed in ``report["kept"]``: asked before archiving, so it is not archived again each run (the
    owner's helper refuses to drop it as well)."""
    report = report if report is not None else {"dropped": [], "kept": []}
    dropped = []
    for part in rt.db.fetch_all(Q.expired_partitions, {"table": table, "retain_days": retain_days}):
        # Asked first, so a partition kept run after run is not archived (a large file rewritten) each time.
        if table == "transactions" and holds_open_payments(rt, part):
            _keep(report, part)
            continue
        if rt.config.ARCHIVE_DIR:
            archive(rt, table, part, Path(rt.config.ARCHIVE_DIR))
        with rt.db.transaction() as conn:
            done = conn.execute(Q.drop_partition, {"table": table, "partition": part["partition"],
                                                   "retain_days": retain_days}).fetchone()["dropped"]
        if not done:  # the owner's helper has the last word (a job queued since the question above)
            _keep(report, part)
            continue
        log.info("partitions: dropped %s (rows before %s)", part["partition"], part["upper_bound"])
        dropped.append({"table": table, **part})
    report["dropped"] += dropped
    return dropped


def holds_open_payments(rt, part):
    """Whether a transactions partition (a row of ``expired_partitions``) holds a payment still open
    (RECEIVED, PENDING, UNKNOWN) or one a job still follows: such a partition is kept, whatever its age."""
    return rt.db.fetch_one(Q.partition_holds_open_payments,
                           {"lower": part["lower_bound"], "upper": part["upper_bound"]})["holds_open"]


def _keep(report, part):
    log.warning("partitions: kept %s past its retention: it holds open payments", part["partition"])
    report["kept"].append(part["partition"])


def archive(rt, table, part, directory):
    """Write one partition's rows, as stored, to ``<directory>/<partition>.csv.gz``; returns the path.

    Written under a temporary name, flushed to disk and renamed: a file with the final name is complete.
    """
    # Payments, phone numbers and providers' answers (masked, but personal): for the switch's user only.
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    final = directory / f"{part['partition']}.csv.gz"
    partial = directory / f".{part['partition']}.csv.gz.tmp"
    partial.unlink(missing_ok=True)  # a run that died mid-file (runs never overlap: the maintenance lock)
    params = {"lower": part["lower_bound"], "upper": part["upper_bound"]}
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with rt.db.connection() as conn, conn.cursor() as cur, os.fdopen(descriptor, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as out, \
                cur.copy(getattr(Q, f"archive_{table}"), params) as copy:
            for chunk in copy:
                out.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, final)
    folder = os.open(directory, os.O_RDONLY)  # the rename itself on disk before the partition is dropped
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
    return final


def status(rt):
    """Every partition: table, name, range, the planner's row estimate and its bytes (indexes included); a DEFAULT
    partition also its ``default_rows``, counted up to ``DEFAULT_ROWS_CAP`` (the estimate says 0 until the partition
    is analysed), or ``None`` while a maintenance run holds it."""
    rows = rt.db.fetch_all(Q.partition_status)  # (its sizes wait for a run's locks, as they always have)
    try:
        counted = default_rows(rt)
    except psycopg.errors.LockNotAvailable:  # a run is moving its rows right now (migration 0080's lock timeout)
        counted = {}
    return [{**row, "default_rows": counted.get(row["parent"]) if row["is_default"] else None} for row in rows]


def default_rows(rt, cap=DEFAULT_ROWS_CAP):
    """``{table: rows in its DEFAULT partition}``, each counted up to ``cap``. Above 0 means traffic outside every
    partition's range: maintenance is behind (the worker was down or its runs fail)."""
    return {row["parent"]: row["n"] for row in rt.db.fetch_all(Q.default_partition_rows_capped, {"cap": cap})}


def _in_batches(rt, query, params):
    """Run a batched DELETE until a batch comes back short; returns the rows deleted."""
    total = 0
    while True:
        with rt.db.transaction() as conn:
            deleted = conn.execute(query, {**params, "limit": BATCH}).rowcount
        total += deleted
        if deleted < BATCH:
            return total
