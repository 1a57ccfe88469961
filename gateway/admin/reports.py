"""Read-only reports for the portal: dashboard, transactions, API logs, audit log, routes.

Nothing here writes. Fixed queries live in ``sql/queries/reports.sql``; the filtered lists are composed
(``gateway.admin.lists``) and paged by keyset (``gateway.admin.keyset``): newest first, by cursor.
"""

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from gateway.admin import keyset, lists, routes_config
from gateway.db import Q
from gateway.errors import NotFound, ValidationFailed
from gateway.hot_path.payments import STAGES
from gateway.hot_path.settlement import FAILED, PENDING, RECEIVED, REJECTED, SUCCESS, UNKNOWN

PER_PAGE = 25
# Payment states whose answer's "code" says what went wrong.
ERROR_STATES = frozenset({FAILED, UNKNOWN, REJECTED})
# The dashboard chart's stacking order, bottom up; each state has its own colour (portal.css).
CHART_STATES = (SUCCESS, PENDING, RECEIVED, UNKNOWN, REJECTED, FAILED)


@dataclass
class Totals:
    """Counts and successful volume (per currency) of a set of transactions."""

    count: int = 0
    success: int = 0
    completed: int = 0
    volume: dict = field(default_factory=dict)  # currency (None: the service has none) → Decimal
    labels: dict = field(default_factory=dict)

    @property
    def success_rate(self):
        """Share of completed transactions that succeeded, in percent (``None`` when none completed)."""
        return None if not self.completed else round(100 * self.success / self.completed, 1)

    @property
    def volumes(self):
        """``[(currency, amount)]`` with an amount, currencies in order (no currency last)."""
        return sorted(((c, v) for c, v in self.volume.items() if v), key=lambda cv: (cv[0] is None, cv[0] or ""))

    def add(self, row):
        """Count one ``report_settlement`` row in."""
        self.count += row["count"]
        self.success += row["success"]
        self.completed += row["completed"]
        self.volume[row["currency"]] = self.volume.get(row["currency"], Decimal(0)) + Decimal(row["volume"])


@dataclass
class Dashboard:
    """Today's figures, the last 24 hours by hour, and the latest traffic."""

    today: Totals
    by_client: list
    by_service: list
    hourly: list
    recent_transactions: list
    recent_api_calls: list


def _grouped(rows, *label_keys, limit=20):
    """``Totals`` per distinct ``label_keys`` of ``rows``, busiest first, at most ``limit``."""
    groups = {}
    for row in rows:
        labels = {key: row[key] for key in label_keys}
        groups.setdefault(tuple(labels.values()), Totals(labels=labels)).add(row)
    return sorted(groups.values(), key=lambda t: (-t.count, *map(str, t.labels.values())))[:limit]


def _hours(rows):
    """``[{hour, count, states: {status: n}}]`` from ``report_hourly``'s rows (one per hour and state)."""
    hours = {}
    for row in rows:
        states = hours.setdefault(row["hour"], {})
        if row["status"] is not None:
            states[row["status"]] = row["count"]
    return [{"hour": hour, "count": sum(states.values()), "states": states} for hour, states in hours.items()]


def dashboard(rt):
    """Everything the dashboard shows."""
    with rt.read_db.connection() as conn:
        rows = conn.execute(Q.report_settlement, {"date_from": None, "date_to": None}).fetchall()  # today
        hourly = _hours(conn.execute(Q.report_hourly))
    today = Totals()
    for row in rows:
        today.add(row)
    return Dashboard(today, _grouped(rows, "app_id", "name"), _grouped(rows, "microservice", "service", "route"),
                     hourly, transactions(rt, {}, per_page=8, count=False).items,
                     api_logs(rt, {}, per_page=8, count=False).items)


SETTLEMENT_COLUMNS = ("day", "app_id", "microservice", "service", "route", "currency", "count", "success",
                      "failed", "rejected", "open", "volume", "failed_amount", "open_amount", "fees")
_SUMMED_COUNTS = ("count", "success", "failed", "rejected", "open")
_SUMMED_AMOUNTS = ("volume", "failed_amount", "open_amount", "fees")
MAX_SETTLEMENT_DAYS = 366


def settlement(rt, args):
    """The settlement report for ``from``–``to`` (ISO dates, ``to`` included; default today): a row per day,
    client, service and currency with counts and ``Decimal`` amounts by state, and totals per currency."""
    date_from, date_to = _date(args.get("from")), _date(args.get("to"))
    problems = {}
    for name, parsed in (("from", date_from), ("to", date_to)):
        if args.get(name) and parsed is None:
            problems[name] = "must be a date, YYYY-MM-DD"
    if date_from and date_to and not 0 <= (date_to - date_from).days < MAX_SETTLEMENT_DAYS:
        problems["to"] = f"must be on or after from, at most {MAX_SETTLEMENT_DAYS} days later"
    if problems:
        raise ValidationFailed(details=problems)
    date_from = date_from or date_to or dt.date.today()
    date_to = date_to or date_from
    rows = rt.read_db.fetch_all(Q.report_settlement,
                                {"date_from": date_from, "date_to": date_to + dt.timedelta(days=1)})
    totals = {}
    for row in rows:
        total = totals.setdefault(row["currency"], {"currency": row["currency"], **{k: 0 for k in _SUMMED_COUNTS},
                                                    **{k: Decimal(0) for k in _SUMMED_AMOUNTS}})
        for key in (*_SUMMED_COUNTS, *_SUMMED_AMOUNTS):
            total[key] += row[key]
    return {"from": date_from, "to": date_to, "rows": rows,
            "totals": sorted(totals.values(), key=lambda t: (t["currency"] is None, t["currency"] or ""))}


def _date(value):
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _text(value, limit=200):
    value = (value or "").strip()
    return value[:limit] or None


def _int(value):
    return int(value) if isinstance(value, str) and value.isdigit() and len(value) < 10 else None


def shown_error(row):
    """The error code a transaction or API log row shows.

    The switch's own error when it answered one; else, for a failed, rejected or unknown payment, the
    ``code`` its answer carries (``PROVIDER_ERROR``, ``PAYER_NOT_FOUND``…), which is no error of the switch.
    """
    if row.get("error_code"):
        return row["error_code"]
    return row.get("answer_code") if row.get("status") in ERROR_STATES else None


def _with_error(rows):
    for row in rows:
        row["error"] = shown_error(row)
    return rows


def transaction_filters(args):
    """The transaction filters from a query string, cleaned (unknown or malformed values dropped)."""
    return {"app_id": _text(args.get("client"), 40), "service": _text(args.get("service"), 130),
            "status": _text(args.get("status"), 12), "unique_id": _text(args.get("f010"), 64),
            "ref": _ref(args.get("ref")), "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def _ref(value):
    """A transaction reference to filter on: its UUID, or the text as given (which matches nothing)."""
    value = _text(value, 64)
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return value


def _page(rt, query, columns, cursors, per_page, count=True):
    after, before = cursors or (None, None)
    page = keyset.fetch_page(rt.read_db, query, *columns, after=after, before=before, per_page=per_page, count=count)
    _with_error(page.items)
    return page


def transactions(rt, filters, cursors=None, per_page=PER_PAGE, count=True):
    """A page of transactions, newest first, filtered by ``transaction_filters``; ``cursors``: ``(after, before)``
    from ``keyset.cursor_args``."""
    query = lists.transactions_query(lists.with_route_ids(rt.read_db, filters))
    return _page(rt, query, (lists.T.c.created_at, lists.T.c.id), cursors, per_page, count)


def transaction(rt, ref):
    """One transaction by its reference, with its stage timeline and API log rows."""
    try:
        ref = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("No transaction with this reference.") from None
    row = rt.read_db.fetch_one(Q.report_transaction, {"ref": ref})
    if row is None:
        raise NotFound("No transaction with this reference.")
    # The row's created_at goes along: each lookup then reads only the partitions that can hold what it seeks.
    logs = _page(rt, lists.api_logs_query({"transaction_id": row["id"], "transaction_created_at": row["created_at"]}),
                 (lists.L.c.created_at, lists.L.c.id), None, 50).items
    related = rt.read_db.fetch_all(Q.report_related_transactions, {
        "client_id": row["client_id"], "id": row["id"], "created_at": row["created_at"],
        "unique_id": row["unique_id"], "provider_ref": row["provider_ref"]})
    return {**row, "error": shown_error(row), "timeline": timeline(row["timings"] or {}), "api_logs": logs,
            "related": related}


def timeline(timings):
    """Stage timings (ms each) as ``[{stage, label, start_ms, ms}]`` in request order, plus the total."""
    stages, start = [], 0.0
    for stage in STAGES:  # the hot path's order (jsonb forgets it)
        if stage in timings:
            ms = float(timings[stage])
            stages.append({"stage": stage, "label": STAGES[stage], "start_ms": start, "ms": ms})
            start += ms
    total = float(timings.get("total", start))
    return {"stages": stages, "total_ms": max(total, start)}


def api_log_filters(args):
    """The API log filters from a query string, cleaned."""
    return {"app_id": _text(args.get("client"), 40), "http_status": _int(args.get("status")),
            "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def api_logs(rt, filters, cursors=None, per_page=PER_PAGE, count=True):
    """A page of API log rows, newest first."""
    return _page(rt, lists.api_logs_query(filters), (lists.L.c.created_at, lists.L.c.id), cursors, per_page, count)


def audit_filters(args):
    """The audit log filters from a query string, cleaned."""
    return {"actor": _text(args.get("actor"), 64), "action": _text(args.get("action"), 64),
            "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def audit_log(rt, filters, cursors=None, per_page=PER_PAGE):
    """A page of the audit log (who, what, before/after), newest first."""
    return _page(rt, lists.audit_query(filters), (lists.A.c.created_at, lists.A.c.id), cursors, per_page)


def audit_actions(rt):
    """Every action name the audit log holds, for the filter."""
    return [row["action"] for row in rt.read_db.fetch_all(Q.report_audit_actions)]


def routes(rt, app_id=None):
    """Every client-service route with its effective YAML document."""
    result = []
    for row in rt.read_db.fetch_all(Q.report_routes, {"app_id": app_id}):
        names = (row["request_function"], row["response_function"])
        document = routes_config.route_document(row["app_id"], row, names, row["enabled"], row["settings"])
        result.append({**row, "yaml": routes_config.dump(document)})
    return result


def _chart_states(hourly):
    """The states to draw, in stacking order: ``CHART_STATES`` first, then any other state seen."""
    seen = {state for row in hourly for state in row["states"]}
    return [*CHART_STATES, *sorted(seen - set(CHART_STATES))]


def hourly_chart(hourly, width=720, height=200, pad=28):
    """Bar geometry of the last 24 h, one stacked segment per state, for a server-rendered SVG."""
    peak = max([r["count"] for r in hourly] + [1])
    scale = (height - 2 * pad) / peak
    slot = (width - 2 * pad) / max(len(hourly), 1)
    states = _chart_states(hourly)
    bars = []
    for index, row in enumerate(hourly):
        x, top = pad + index * slot + slot * 0.15, height - pad
        segments = []
        for state in states:
            count = row["states"].get(state, 0)
            if count:
                top -= count * scale
                segments.append({"state": state, "count": count, "y": round(top, 1), "h": round(count * scale, 1)})
        bars.append({"x": round(x, 1), "w": round(slot * 0.7, 1), "hour": row["hour"], "count": row["count"],
                     "y": round(top, 1), "h": round(height - pad - top, 1), "segments": segments})
    ticks = sorted({0, peak // 2, peak})
    return {"width": width, "height": height, "pad": pad, "bars": bars, "peak": peak, "states": states,
            "ticks": [{"value": t, "y": round(height - pad - t * scale, 1)} for t in ticks]}


def delivery_filters(args):
    """The client callback delivery filters from a query string (the Callbacks page's), cleaned."""
    state = args.get("state")
    return {"app_id": _text(args.get("client"), 40), "state": state if state in ("queued", "done", "dead") else None}
