"""Read-only reports for the portal: dashboard, transactions, API logs, audit log, routes.

Nothing here writes. Every query lives in ``sql/queries/reports.sql``;
optional filters are passed as ``None`` so one query serves every filter.
"""

import datetime as dt
import math
import uuid
from dataclasses import dataclass, field
from decimal import Decimal

from gateway import routes_config
from gateway.db import Q
from gateway.errors import NotFound

PER_PAGE = 25
# The stages the switch times, in the order a request goes through them (jsonb forgets the order).
STAGES = ("validate", "claim", "request_function", "forward", "response_function")
STAGE_LABELS = {"validate": "received and validated", "claim": "unique id claimed",
                "request_function": "request function", "forward": "forwarded and answered",
                "response_function": "response function"}


@dataclass
class Page:
    """One page of a list, with what pagination needs."""

    items: list
    page: int
    per_page: int
    total: int

    @property
    def pages(self):
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self):
        return self.page > 1

    @property
    def has_next(self):
        return self.page < self.pages


@dataclass
class Totals:
    """Counts and volume of a set of transactions."""

    count: int = 0
    success: int = 0
    completed: int = 0
    volume: Decimal = Decimal(0)
    labels: dict = field(default_factory=dict)

    @property
    def success_rate(self):
        """Share of completed transactions that succeeded, in percent (``None`` when none completed)."""
        return None if not self.completed else round(100 * self.success / self.completed, 1)

    @classmethod
    def from_row(cls, row, *label_keys):
        return cls(row["count"], row["success"], row["completed"], Decimal(row["volume"]),
                   {k: row[k] for k in label_keys})


@dataclass
class Dashboard:
    """Today's figures, the last 24 hours by hour, and the latest traffic."""

    today: Totals
    by_client: list
    by_service: list
    hourly: list
    recent_transactions: list
    recent_api_calls: list


def dashboard(rt):
    """Everything the dashboard shows."""
    with rt.db.connection() as conn:
        today = Totals.from_row(conn.execute(Q.report_today).fetchone())
        by_client = [Totals.from_row(r, "app_id", "name") for r in conn.execute(Q.report_today_by_client)]
        by_service = [Totals.from_row(r, "microservice", "service", "route")
                      for r in conn.execute(Q.report_today_by_service)]
        hourly = conn.execute(Q.report_hourly).fetchall()
    return Dashboard(today, by_client, by_service, hourly,
                     transactions(rt, {}, per_page=8).items, api_logs(rt, {}, per_page=8).items)


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


def _paged(rt, query, params, page, per_page):
    page = max(1, page or 1)
    rows = rt.db.fetch_all(query, {**params, "limit": per_page, "offset": (page - 1) * per_page})
    total = rows[0]["total"] if rows else 0
    return Page(rows, page, per_page, total)


def transaction_filters(args):
    """The transaction filters from a query string, cleaned (unknown or malformed values dropped)."""
    return {"app_id": _text(args.get("client"), 40), "service": _text(args.get("service"), 130),
            "status": _text(args.get("status"), 12), "unique_id": _text(args.get("f010"), 64),
            "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def transactions(rt, filters, page=1, per_page=PER_PAGE):
    """A page of transactions, newest first, filtered by ``transaction_filters``."""
    params = {"app_id": None, "service": None, "status": None, "unique_id": None,
              "date_from": None, "date_to": None, **filters}
    return _paged(rt, Q.report_transactions, params, page, per_page)


def transaction(rt, ref):
    """One transaction by its reference, with its stage timeline and API log rows."""
    try:
        ref = uuid.UUID(str(ref))
    except ValueError:
        raise NotFound("No transaction with this reference.") from None
    row = rt.db.fetch_one(Q.report_transaction, {"ref": ref})
    if row is None:
        raise NotFound("No transaction with this reference.")
    logs = _paged(rt, Q.report_api_logs, {**_no_log_filters(), "transaction_id": row["id"]}, 1, 50).items
    related = rt.db.fetch_all(Q.report_related_transactions, {
        "client_id": row["client_id"], "id": row["id"], "unique_id": row["unique_id"],
        "provider_ref": row["provider_ref"]})
    return {**row, "timeline": timeline(row["timings"] or {}), "api_logs": logs, "related": related}


def timeline(timings):
    """Stage timings (ms each) as ``[{stage, label, start_ms, ms}]`` in request order, plus the total."""
    stages, start = [], 0.0
    for stage in STAGES:
        if stage in timings:
            ms = float(timings[stage])
            stages.append({"stage": stage, "label": STAGE_LABELS[stage], "start_ms": start, "ms": ms})
            start += ms
    total = float(timings.get("total", start))
    return {"stages": stages, "total_ms": max(total, start)}


def _no_log_filters():
    return {"app_id": None, "http_status": None, "transaction_id": None, "date_from": None, "date_to": None}


def api_log_filters(args):
    """The API log filters from a query string, cleaned."""
    return {"app_id": _text(args.get("client"), 40), "http_status": _int(args.get("status")),
            "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def api_logs(rt, filters, page=1, per_page=PER_PAGE):
    """A page of API log rows, newest first."""
    return _paged(rt, Q.report_api_logs, {**_no_log_filters(), **filters}, page, per_page)


def audit_filters(args):
    """The audit log filters from a query string, cleaned."""
    return {"actor": _text(args.get("actor"), 64), "action": _text(args.get("action"), 64),
            "date_from": _date(args.get("from")), "date_to": _date(args.get("to"))}


def audit_log(rt, filters, page=1, per_page=PER_PAGE):
    """A page of the audit log (who, what, before/after), newest first."""
    params = {"actor": None, "action": None, "date_from": None, "date_to": None, **filters}
    return _paged(rt, Q.report_audit_log, params, page, per_page)


def audit_actions(rt):
    """Every action name the audit log holds, for the filter."""
    return [row["action"] for row in rt.db.fetch_all(Q.report_audit_actions)]


def routes(rt, app_id=None):
    """Every client-service route with its effective YAML document."""
    result = []
    for row in rt.db.fetch_all(Q.report_routes, {"app_id": app_id}):
        names = (row["request_function"], row["response_function"])
        document = routes_config.route_document(row["app_id"], row, names, row["enabled"], row["settings"])
        result.append({**row, "yaml": routes_config.dump(document)})
    return result


def hourly_chart(hourly, width=720, height=200, pad=28):
    """Bar geometry of the last 24 h (success stacked over the rest) for a server-rendered SVG."""
    peak = max([r["count"] for r in hourly] + [1])
    scale = (height - 2 * pad) / peak
    slot = (width - 2 * pad) / max(len(hourly), 1)
    bars = []
    for index, row in enumerate(hourly):
        x = pad + index * slot + slot * 0.15
        total_h, success_h = row["count"] * scale, row["success"] * scale
        bars.append({"x": round(x, 1), "w": round(slot * 0.7, 1), "hour": row["hour"],
                     "count": row["count"], "success": row["success"], "failed": row["failed"],
                     "y": round(height - pad - total_h, 1), "h": round(total_h, 1),
                     "sy": round(height - pad - success_h, 1), "sh": round(success_h, 1)})
    ticks = sorted({0, peak // 2, peak})
    return {"width": width, "height": height, "pad": pad, "bars": bars, "peak": peak,
            "ticks": [{"value": t, "y": round(height - pad - t * scale, 1)} for t in ticks]}
