"""CSV exports of the portal's filtered lists, streamed: a million rows cost what a thousand do in memory.

Rows come from a server-side cursor in batches and leave as CSV lines as they come. The lists' own composed
queries are used (same filters, same masking: what is stored is already masked), newest first, unpaged. A cell a
spreadsheet would run as a formula (a hostile ``=HYPERLINK(…)`` unique id) is written as text.
"""

import csv
import io
import json

from gateway.admin import lists, reports
from gateway.db import compose

BATCH = 2000
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# (query from filters, filters from the query string, columns): each list the portal shows.
LISTS = {
    "transactions": (lists.transactions_query, reports.transaction_filters,
                     ("created_at", "ref", "app_id", "microservice", "service", "route", "unique_id", "status",
                      "http_status", "error", "amount", "currency", "completed_at")),
    "api-logs": (lists.api_logs_query, reports.api_log_filters,
                 ("created_at", "app_id", "method", "path", "http_status", "error", "duration_ms", "remote_addr",
                  "transaction_ref", "status")),
    "audit": (lists.audit_query, reports.audit_filters,
              ("created_at", "actor", "action", "target", "before", "after")),
    # The Callbacks page's columns: never the signed body nor the client's secret.
    "deliveries": (lambda f: lists.jobs_query("client_callback", f["app_id"], f["state"]), reports.delivery_filters,
                   ("id", "created_at", "app_id", "transaction_ref", "unique_id", "status", "state", "attempts",
                    "last_status", "last_error", "run_at", "completed_at")),
}
NAMES = tuple(LISTS)


def rows_as_csv(rt, name, args):
    """CSV lines (header first) of the list ``name`` filtered by ``args``; a generator, read lazily."""
    query, filters, columns = LISTS[name]
    statement = query(lists.with_route_ids(rt.read_db, filters(args)))
    yield _line(columns)
    sql, params = compose.compiled(_newest_first(statement))
    with rt.read_db.transaction() as conn, conn.cursor(name=f"export_{name.replace('-', '_')}") as cursor:
        cursor.itersize = BATCH
        cursor.execute(sql, params)
        for row in cursor:
            row["error"] = reports.shown_error(row)
            yield _line([_cell(row.get(column)) for column in columns])


def _newest_first(statement):
    created_at, row_id = statement.selected_columns["created_at"], statement.selected_columns["id"]
    return statement.order_by(created_at.desc(), row_id.desc())


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str)
    text = value.isoformat() if hasattr(value, "isoformat") else str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def cells_line(values):
    """One CSV line of ``values``, each written as the exports write a cell (formulas as text, JSON, ISO times)."""
    return _line([_cell(value) for value in values])


def _line(values):
    buffer = io.StringIO()
    csv.writer(buffer).writerow(values)
    return buffer.getvalue()


def settlement_csv(report):
    """The settlement report's rows as CSV lines (header first); amounts as exact decimals."""
    yield _line(reports.SETTLEMENT_COLUMNS)
    for row in report["rows"]:
        yield _line([_cell(row.get(column)) for column in reports.SETTLEMENT_COLUMNS])
