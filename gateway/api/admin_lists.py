"""The admin API's lists of traffic: transactions, API logs and the audit log, paged by keyset.

The same composed queries and filters as the portal's pages (``gateway.admin.reports``); a malformed filter
is a 400 naming it here, where the portal drops it.
"""

from flask import Blueprint, request

from gateway.admin import keyset, reports
from gateway.api import json_response
from gateway.api.admin import admin_required
from gateway.errors import ValidationFailed
from gateway.hot_path.settlement import STATES
from gateway.runtime import runtime

bp = Blueprint("admin_lists_api", __name__, url_prefix="/api/v1/admin")
MAX_LIMIT = 200


def _checked(args, filters, dates=("from", "to")):
    """``filters`` after refusing what the portal would have dropped silently; then the limit and cursors."""
    problems = {name: "must be a date, YYYY-MM-DD" for name in dates
                if args.get(name) and filters[f"date_{name}"] is None}
    limit = args.get("limit", str(reports.PER_PAGE))
    if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
        problems["limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
    if problems:
        raise ValidationFailed(details=problems)
    return int(limit), keyset.cursor_args(args)


@bp.get("/transactions")
@admin_required()
def list_transactions():
    """Transactions, newest first (?client=&service=&status=&f010=&ref=&from=&to=&limit=&after=|before=)."""
    filters = reports.transaction_filters(request.args)
    if request.args.get("status") and filters["status"] not in STATES:
        raise ValidationFailed(details={"status": f"must be one of {', '.join(STATES)}"})
    limit, cursors = _checked(request.args, filters)
    page = reports.transactions(runtime(), filters, cursors, limit)
    return json_response(page.to_dict("transactions"))


@bp.get("/api-logs")
@admin_required()
def list_api_logs():
    """API log rows, newest first (?client=&status=<HTTP status>&from=&to=&limit=&after=|before=)."""
    filters = reports.api_log_filters(request.args)
    if request.args.get("status") and filters["http_status"] is None:
        raise ValidationFailed(details={"status": "must be an HTTP status, e.g. 502"})
    limit, cursors = _checked(request.args, filters)
    return json_response(reports.api_logs(runtime(), filters, cursors, limit).to_dict("api_logs"))


@bp.get("/audit")
@admin_required()
def list_audit():
    """The audit log, newest first (?actor=&action=&from=&to=&limit=&after=|before=)."""
    filters = reports.audit_filters(request.args)
    limit, cursors = _checked(request.args, filters)
    return json_response(reports.audit_log(runtime(), filters, cursors, limit).to_dict("entries"))
