"""Reconciliation of a provider's statement (CSV) against the switch's transactions.

The statement is COPYed into a temporary table, read through the provider's column mapping, matched
against the provider's transactions of the period and classified in SQL, in one database transaction
(``sql/queries/reconciliation.sql``): a 100,000-line file costs a few statements, not 100,000 round trips.
Outcomes: matched, missing at the provider (we say SUCCESS, they have nothing), missing at the switch,
amount or currency mismatch, state mismatch, duplicate and invalid lines. A state mismatch where we do not
know (UNKNOWN, or PENDING past the overdue time) and the provider says SUCCESS or FAILED is proposed into
the four-eyes resolution queue (``gateway/follow_up/resolutions.py``) — never settled here. A run is
stored with its figures and discrepancies; the same file for the same provider is the same run.
"""

import csv
import datetime as dt
import hashlib
import io
import time

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.errors import NotFound, ValidationFailed
from gateway.naming import NAME_PART

COLUMNS = ("reference", "amount", "currency", "status", "time")
REQUIRED_COLUMNS = ("reference", "amount", "status")
MATCH_ON = ("ref", "provider_ref", "unique_id")
KINDS = ("matched", "missing_at_provider", "missing_at_switch", "amount_mismatch", "currency_mismatch",
         "state_mismatch", "duplicate", "invalid_line")
MAX_COLUMNS = 40  # the staging table's width (recon_create_raw)
MAX_DAYS = 366
# How providers' statements commonly say a payment's outcome; a mapping's "statuses" add to or override these.
DEFAULT_STATUSES = {"SUCCESS": "SUCCESS", "SUCCESSFUL": "SUCCESS", "SUCCEEDED": "SUCCESS", "PAID": "SUCCESS",
                    "COMPLETED": "SUCCESS", "FAILED": "FAILED", "FAILURE": "FAILED", "DECLINED": "FAILED",
                    "REJECTED": "FAILED", "CANCELLED": "FAILED", "REVERSED": "FAILED", "PENDING": "PENDING"}
DEFAULT_MAPPING = {"columns": {name: name for name in COLUMNS}, "match_on": "ref", "statuses": {}}
EXPORT_COLUMNS = ("kind", "line", "reference", "transaction_ref", "unique_id", "app_id", "our_status",
                  "their_status", "our_amount", "their_amount", "our_currency", "their_currency", "detail",
                  "resolution_id")


def mapping(rt, microservice):
    """The provider's column mapping (the default one until an admin saves another)."""
    _check_provider(rt, microservice)
    row = rt.db.fetch_one(Q.recon_mapping, {"microservice": microservice})
    return dict(row) if row else {"microservice": microservice, **DEFAULT_MAPPING, "updated_by": None,
                                  "updated_at": None}


def save_mapping(rt, microservice, payload, actor):
    """Declare which statement columns hold what for ``microservice``; audited."""
    _check_provider(rt, microservice)
    columns, match_on, statuses = _checked_mapping(payload)
    with rt.db.transaction() as conn:
        before = conn.execute(Q.recon_mapping, {"microservice": microservice}).fetchone()
        row = conn.execute(Q.recon_save_mapping, {"microservice": microservice, "columns": Jsonb(columns),
                                                  "match_on": match_on, "statuses": Jsonb(statuses),
                                                  "actor": actor}).fetchone()
        _audit(conn, actor, "reconciliation.mapping", microservice,
               before and {k: before[k] for k in ("columns", "match_on", "statuses")},
               {"columns": columns, "match_on": match_on, "statuses": statuses})
    return dict(row)


def _checked_mapping(payload):
    problems = {}
    columns = payload.get("columns")
    if not isinstance(columns, dict) or set(columns) - set(COLUMNS) or not all(
            isinstance(v, str) and 0 < len(v.strip()) <= 100 for v in columns.values()):
        problems["columns"] = f"must map some of {', '.join(COLUMNS)} to header names (text, 1 to 100 characters)"
    elif missing := [name for name in REQUIRED_COLUMNS if name not in columns]:
        problems["columns"] = f"must name the column of {', '.join(missing)}"
    match_on = payload.get("match_on", "ref")
    if match_on not in MATCH_ON:
        problems["match_on"] = f"must be one of {', '.join(MATCH_ON)}"
    statuses = payload.get("statuses", {})
    if not isinstance(statuses, dict) or len(statuses) > 50 or not all(
            isinstance(k, str) and 0 < len(k) <= 40 and v in ("SUCCESS", "FAILED", "PENDING")
            for k, v in statuses.items()):
        problems["statuses"] = 'must map provider words to SUCCESS, FAILED or PENDING, e.g. {"PAID": "SUCCESS"}'
    if problems:
        raise ValidationFailed(details=problems)
    return ({k: v.strip() for k, v in columns.items()}, match_on,
            {k.strip().upper(): v for k, v in statuses.items()})


def _check_provider(rt, microservice):
    if not isinstance(microservice, str) or not NAME_PART.match(microservice) or not rt.db.fetch_one(
            Q.recon_provider_exists, {"microservice": microservice})["found"]:
        raise NotFound(f"No provider (microservice) {microservice!r}.")


def run(rt, microservice, data, actor, file_name=None, date_from=None, date_to=None):
    """Reconcile the statement ``data`` (CSV bytes) of ``microservice``; the same file again is the same run.

    Answers the run with ``replayed`` true when this file was reconciled before.
    """
    started = time.perf_counter()
    rules = mapping(rt, microservice)
    data = _checked_file(data)
    positions = _positions(data, rules["columns"])
    period = _period(date_from, date_to)
    sha256 = hashlib.sha256(data).hexdigest()
    with rt.db.transaction() as conn:
        claimed = conn.execute(Q.recon_claim_run, {
            "microservice": microservice, "sha256": sha256, "file_name": (file_name or "")[:200] or None,
            "date_from": period[0] or dt.date.today(), "date_to": period[1] or dt.date.today(),
            "mapping": Jsonb({k: rules[k] for k in ("columns", "match_on", "statuses")}), "actor": actor}).fetchone()
        if claimed is None:
            existing = conn.execute(Q.recon_run_by_file, {"microservice": microservice, "sha256": sha256}).fetchone()
            return {**get_run(rt, existing["id"]), "replayed": True}
        figures, period = _reconcile(rt, conn, claimed["id"], microservice, data, positions, rules, period, actor)
        duration_ms = round((time.perf_counter() - started) * 1000, 3)
        conn.execute(Q.recon_finish_run, {"id": claimed["id"], "figures": Jsonb(figures), "date_from": period[0],
                                          "date_to": period[1], "duration_ms": duration_ms})
        _audit(conn, actor, "reconciliation.run", microservice, None,
               {"run": claimed["id"], "file_sha256": sha256, "figures": figures})
    return {**get_run(rt, claimed["id"]), "replayed": False}


def _reconcile(rt, conn, run_id, microservice, data, positions, rules, period, actor):
    statuses = {**DEFAULT_STATUSES, **rules["statuses"]}
    conn.execute(Q.recon_create_raw)
    columns = sql.SQL(", ").join(sql.Identifier(f"c{i}") for i in range(1, positions["width"] + 1))
    try:
        with conn.cursor().copy(sql.SQL(Q.recon_copy_raw).format(columns=columns)) as copy:
            copy.write(data)
    except psycopg.DataError as error:  # a line with too many or too few columns, bytes that are not UTF-8
        raise ValidationFailed(details={"file": _copy_problem(error)}) from None
    conn.execute(Q.recon_load_lines, {**positions, "match_on": rules["match_on"], "statuses": Jsonb(statuses)})
    if period[0] is None:
        period = _statement_period(conn)
    conn.execute(Q.recon_load_ours, {"microservice": microservice, "match_on": rules["match_on"],
                                     "date_from": period[0], "date_to": period[1],
                                     "overdue_minutes": rt.config.PENDING_OVERDUE_MINUTES})
    conn.execute("ANALYZE statement_lines")  # fresh temporary tables have no statistics: plan a hash join
    conn.execute("ANALYZE ours")
    conn.execute(Q.recon_classify)
    conn.execute(Q.recon_insert_items, {"run_id": run_id})
    proposals = len(conn.execute(Q.recon_propose, {"run_id": run_id, "actor": actor}).fetchall())
    counts = {row["kind"]: row["count"] for row in conn.execute(Q.recon_counts)}
    sizes = conn.execute(Q.recon_line_count).fetchone()
    matched = [{"currency": r["currency"], "amount": str(r["amount"]), "count": r["count"]}
               for r in conn.execute(Q.recon_matched_amounts)]
    figures = {"lines": sizes["lines"], "ours_in_period": sizes["ours_in_period"],
               "outcomes": {kind: counts.get(kind, 0) for kind in KINDS},
               "discrepancies": sum(n for kind, n in counts.items() if kind != "matched"),
               "proposals": proposals, "matched_amounts": matched}
    return figures, period


def _checked_file(data):
    if not data or not data.strip():
        raise ValidationFailed(details={"file": "is empty: send the provider's statement as CSV"})
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a spreadsheet's UTF-8 byte order mark
    # A blank last line would be a row of nothing; COPY wants one line ending throughout (the header's).
    newline = b"\r\n" if data.split(b"\n", 1)[0].endswith(b"\r") else b"\n"
    return data.rstrip(b"\r\n") + newline


def _positions(data, columns):
    """1-based positions of the mapped columns in the file's header (``None``: not mapped); the header's width."""
    try:
        header = next(csv.reader(io.StringIO(data.split(b"\n", 1)[0].decode("utf-8").rstrip("\r"))))
    except (UnicodeDecodeError, StopIteration, csv.Error):
        raise ValidationFailed(details={"file": "the first line must be a CSV header, in UTF-8"}) from None
    header = [name.strip() for name in header]
    if len(header) > MAX_COLUMNS:
        raise ValidationFailed(details={"file": f"has {len(header)} columns; at most {MAX_COLUMNS} are read"})
    missing = {name: f"column {column!r} is not in the header ({', '.join(header)[:300]})"
               for name, column in columns.items() if column not in header}
    if missing:
        raise ValidationFailed(details=missing)
    positions = {name: header.index(columns[name]) + 1 if name in columns else None for name in COLUMNS}
    return {**positions, "width": len(header)}


def _copy_problem(error):
    where = getattr(error.diag, "context", None) or ""
    return f"{error.diag.message_primary or 'is not valid CSV'}" + (f" ({where.splitlines()[0]})" if where else "")


def _period(date_from, date_to):
    parsed = []
    for name, value in (("from", date_from), ("to", date_to)):
        try:
            parsed.append(dt.date.fromisoformat(value) if isinstance(value, str) and value else value or None)
        except ValueError:
            raise ValidationFailed(details={name: "must be a date, YYYY-MM-DD"}) from None
    first, last = parsed
    if (first is None) != (last is None):
        first, last = first or last, last or first
    if first and not 0 <= (last - first).days < MAX_DAYS:
        raise ValidationFailed(details={"to": f"must be on or after from, at most {MAX_DAYS} days later"})
    return first, last


def _statement_period(conn):
    days = conn.execute(Q.recon_statement_days).fetchone()
    try:
        if days["first_day"] is None:
            raise ValidationFailed()
        return _period(days["first_day"], days["last_day"])
    except ValidationFailed:
        raise ValidationFailed(details={"from": "give the statement's period (from, to): it has no time column "
                                                "naming valid dates (YYYY-MM-DD…)"}) from None


def _audit(conn, actor, action, target, before, after):
    conn.execute(Q.insert_audit, {"actor": actor, "action": action, "target": target,
                                  "before": Jsonb(before) if before is not None else None, "after": Jsonb(after)})


def get_run(rt, run_id):
    """One run with its figures."""
    row = rt.db.fetch_one(Q.recon_run, {"id": run_id})
    if row is None:
        raise NotFound(f"No reconciliation run {run_id}.")
    return dict(row)


def list_runs(rt, microservice=None, limit=100):
    """Runs, newest first (from the read replica when there is one, like the other lists)."""
    return rt.read_db.fetch_all(Q.recon_runs, {"microservice": microservice or None, "limit": max(1, min(limit, 500))})


def discrepancies(rt, run_id, kind=None, limit=200):
    """A run's discrepancies (``kind``: one outcome only), in statement order per kind."""
    get_run(rt, run_id)
    if kind is not None and kind not in KINDS[1:]:
        raise ValidationFailed(details={"kind": f"must be one of {', '.join(KINDS[1:])}"})
    return rt.db.fetch_all(Q.recon_items, {"run_id": run_id, "kind": kind, "limit": limit})


def discrepancies_csv(rt, run_id, kind=None):
    """CSV lines (header first) of every discrepancy of a run; a generator reading a server-side cursor (of the
    read replica when there is one, like the other exports)."""
    from gateway.admin.exports import BATCH, cells_line

    get_run(rt, run_id)
    if kind is not None and kind not in KINDS[1:]:
        raise ValidationFailed(details={"kind": f"must be one of {', '.join(KINDS[1:])}"})

    def lines():
        yield cells_line(EXPORT_COLUMNS)
        with rt.read_db.transaction() as conn, conn.cursor(name="export_reconciliation") as cursor:
            cursor.itersize = BATCH
            cursor.execute(Q.recon_items, {"run_id": run_id, "kind": kind, "limit": None})
            for row in cursor:
                yield cells_line([row[column] for column in EXPORT_COLUMNS])
    return lines()
