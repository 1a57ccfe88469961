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

from gateway.db import Q
from gateway.follow_up import schedule

log = logging.getLogger(__name__)

TABLES = ("transactions", "api_logs", "provider_callbacks", "audit_log")
RETENTION = {"transactions": "RETAIN_TRANSACTIONS_DAYS", "api_logs": "RETAIN_API_LOGS_DAYS",
             "provider_callbacks": "RETAIN_CALLBACKS_DAYS", "audit_log": "RETAIN_AUDIT_DAYS"}
BATCH = 5000


@schedule.periodic("partitions", lambda config: config.PARTITION_EVERY_SECONDS)
def maintain(rt):
    """Make partitions ahead, empty the DEFAULT partitions, apply retention; returns what was done."""
    report = {"made": ensure_ahead(rt), "dropped": [], "keys_deleted": 0, "jobs_deleted": 0}
    for table in TABLES:
        days = getattr(rt.config, RETENTION[table])
        if days > 0:
            report["dropped"] += expire(rt, table, days)
    retain_callbacks = rt.config.RETAIN_CALLBACKS_DAYS
    if retain_callbacks > 0:
        report["jobs_deleted"] = _in_batches(rt, Q.delete_finished_jobs, {"retain_days": retain_callbacks})
    report["keys_deleted"] = _delete_keys(rt, report["dropped"])
    if report["made"] or report["dropped"]:
        log.info("partitions: made %s, dropped %s", report["made"], [d["partition"] for d in report["dropped"]])
    return report


def ensure_ahead(rt, now=None):
    """Partitions from now (or from a DEFAULT partition's oldest row) to the days ahead; returns how many made."""
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
        made += ensure(rt, table, start, until)
    return made


def ensure(rt, table, start, until):
    """Make the partitions of ``table`` that [start, until) still lacks (owner's helper); returns how many."""
    with rt.db.transaction() as conn:
        return conn.execute(Q.ensure_partitions, {"table": table, "from": start, "until": until,
                                                  "days": rt.config.PARTITION_DAYS}).fetchone()["made"]


def expire(rt, table, retain_days):
    """Archive (``ARCHIVE_DIR``) and drop the partitions of ``table`` older than ``retain_days``; returns them."""
    dropped = []
    for part in rt.db.fetch_all(Q.expired_partitions, {"table": table, "retain_days": retain_days}):
        if rt.config.ARCHIVE_DIR:
            archive(rt, table, part, Path(rt.config.ARCHIVE_DIR))
        with rt.db.transaction() as conn:
            conn.execute(Q.drop_partition, {"table": table, "partition": part["partition"],
                                            "retain_days": retain_days})
        log.info("partitions: dropped %s (rows before %s)", part["partition"], part["upper_bound"])
        dropped.append({"table": table, **part})
    return dropped


def archive(rt, table, part, directory):
    """Write one partition's rows, as stored, to ``<directory>/<partition>.csv.gz``; returns the path.

    Written under a temporary name, flushed to disk and renamed: a file with the final name is complete.
    """
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{part['partition']}.csv.gz"
    partial = directory / f".{part['partition']}.csv.gz.tmp"
    params = {"lower": part["lower_bound"], "upper": part["upper_bound"]}
    with rt.db.connection() as conn, conn.cursor() as cur, open(partial, "wb") as raw:
        with gzip.GzipFile(fileobj=raw, mode="wb") as out, \
                cur.copy(getattr(Q, f"archive_{table}"), params) as copy:
            for chunk in copy:
                out.write(chunk)
        raw.flush()
        os.fsync(raw.fileno())
    os.replace(partial, final)
    return final


def status(rt):
    """Every partition: table, name, range, the planner's row estimate and its bytes (indexes included)."""
    return rt.db.fetch_all(Q.partition_status)


def _delete_keys(rt, dropped):
    """Delete the keys of the payments whose partitions were dropped, in batches; returns how many."""
    ends = [d["upper_bound"] for d in dropped if d["table"] == "transactions"]
    return _in_batches(rt, Q.delete_payment_keys, {"before": max(ends)}) if ends else 0


def _in_batches(rt, query, params):
    """Run a batched DELETE until a batch comes back short; returns the rows deleted."""
    total = 0
    while True:
        with rt.db.transaction() as conn:
            deleted = conn.execute(query, {**params, "limit": BATCH}).rowcount
        total += deleted
        if deleted < BATCH:
            return total
