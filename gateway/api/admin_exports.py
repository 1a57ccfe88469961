"""CSV exports over the admin API: the portal's filtered lists, streamed, for scripts and spreadsheets."""

from flask import Blueprint, Response, request, stream_with_context

from gateway.admin import exports
from gateway.api.admin import admin_required
from gateway.runtime import runtime

bp = Blueprint("admin_exports_api", __name__, url_prefix="/api/v1/admin")


@bp.get("/exports/<any(transactions, 'api-logs', audit, deliveries):name>")
@admin_required()
def export_csv(name):
    """Every row of the list ``name`` matching the query string's filters, as CSV, streamed in constant memory."""
    rows = exports.rows_as_csv(runtime(), name, request.args)
    return Response(stream_with_context(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mospay-{name}.csv"', "Cache-Control": "no-store"})
