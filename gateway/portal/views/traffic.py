"""Read-only pages: dashboard, transactions, API logs, audit log."""

from flask import Response, flash, render_template, request, stream_with_context

from gateway.admin import exports, keyset, onboarding, reports
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp
from gateway.portal.forms import STATUSES
from gateway.runtime import runtime


@bp.get("/")
def dashboard():
    """Today's count, volume and success rate; by client and service; the last 24 h; recent traffic."""
    data = reports.dashboard(runtime())
    return render_template("portal/dashboard.html", data=data, chart=reports.hourly_chart(data.hourly))


def _choices(rt):
    return {"clients": [c["app_id"] for c in onboarding.list_clients(rt)],
            "services": [f"{s['microservice']}/{s['service']}/{s['route']}" for s in onboarding.list_services(rt)],
            "statuses": STATUSES}


def _cursors():
    """The page asked for by ``?after=``/``?before=``; a tampered cursor shows the newest page."""
    return keyset.cursor_args(request.args, lenient=True)


@bp.get("/transactions")
def transactions():
    """Transactions, newest first, with filters; ``?after=``/``?before=`` cursors page through them."""
    rt = runtime()
    page = reports.transactions(rt, reports.transaction_filters(request.args), _cursors())
    return render_template("portal/transactions.html", page=page, args=request.args, **_choices(rt))


@bp.get("/exports/<any(transactions, 'api-logs', audit, deliveries):name>.csv")
def export_csv(name):
    """The list ``name`` as CSV, with the page's filters, streamed (every matching row, not one page)."""
    rows = exports.rows_as_csv(runtime(), name, request.args)
    return Response(stream_with_context(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mospay-{name}.csv"', "Cache-Control": "no-store"})


# A month of 200 routes is 6,000 rows: more than a page can show usefully (or render quickly); the CSV has them all.
SETTLEMENT_ROWS = 500


@bp.get("/reports/settlement")
def settlement():
    """The settlement report: per day, client, service and currency, counts and amounts by state."""
    try:
        report = reports.settlement(runtime(), request.args)
    except MosPayError as error:
        flash(" ".join(f"{k} {v}" for k, v in (error.details or {}).items()) or error.message, "danger")
        report = reports.settlement(runtime(), {})
    return render_template("portal/settlement.html", report=report, args=request.args, shown_rows=SETTLEMENT_ROWS)


@bp.get("/reports/settlement.csv")
def settlement_csv():
    """The settlement report as CSV."""
    report = reports.settlement(runtime(), request.args)
    return Response(exports.settlement_csv(report), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mospay-settlement-{report["from"]}-{report["to"]}.csv"'})


@bp.get("/transactions/<ref>")
def transaction(ref):
    """One transaction: stage timeline, masked request, downstream call and answer."""
    return render_template("portal/transaction.html", tx=reports.transaction(runtime(), ref))


@bp.get("/api-logs")
def api_logs():
    """Every API call the switch answered, newest first."""
    rt = runtime()
    page = reports.api_logs(rt, reports.api_log_filters(request.args), _cursors())
    return render_template("portal/api_logs.html", page=page, args=request.args, **_choices(rt))


@bp.get("/audit")
def audit():
    """Every admin and DBA action: who, what, before and after."""
    rt = runtime()
    page = reports.audit_log(rt, reports.audit_filters(request.args), _cursors())
    return render_template("portal/audit.html", page=page, args=request.args, actions=reports.audit_actions(rt))
