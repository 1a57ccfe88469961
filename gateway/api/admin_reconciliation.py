"""Reconciliation over the admin API: column mappings, statement uploads, runs and their discrepancies."""

from flask import Blueprint, Response, g, request, stream_with_context

from gateway.admin import reconciliation
from gateway.api import json_body, json_response
from gateway.api.admin import WRITE_ROLES, admin_required
from gateway.errors import UnsupportedMediaType, ValidationFailed
from gateway.jsondoc import read_body
from gateway.runtime import runtime

bp = Blueprint("admin_reconciliation_api", __name__, url_prefix="/api/v1/admin/reconciliation")


@bp.get("/mappings/<microservice>")
@admin_required()
def get_mapping(microservice):
    """Which columns of the provider's statement hold the reference, amount, currency, status and time."""
    return json_response(reconciliation.mapping(runtime(), microservice))


@bp.put("/mappings/<microservice>")
@admin_required(WRITE_ROLES)
def put_mapping(microservice):
    """Declare the provider's statement columns, the key its reference matches and its status words."""
    return json_response(reconciliation.save_mapping(runtime(), microservice, json_body(), g.user.username))


@bp.post("/runs")
@admin_required(WRITE_ROLES)
def create_run():
    """Reconcile a statement (the body, ``text/csv``) of ``?microservice=`` over ``?from=&to=`` (default: its
    time column's days); 201 with the run, or 200 with the earlier run of the same file."""
    rt = runtime()
    if request.mimetype != "text/csv":
        raise UnsupportedMediaType("Send the statement as the body, with Content-Type: text/csv.")
    request.max_content_length = rt.config.MAX_STATEMENT_BYTES  # a statement is bigger than a payment
    result = reconciliation.run(rt, request.args.get("microservice", ""), read_body(request), g.user.username,
                                request.args.get("file_name"), request.args.get("from"), request.args.get("to"))
    return json_response(result, 200 if result["replayed"] else 201)


@bp.get("/runs")
@admin_required()
def list_runs():
    """Runs, newest first (``?microservice=``, ``?limit=``)."""
    return json_response({"runs": reconciliation.list_runs(runtime(), request.args.get("microservice"),
                                                           _int("limit", 100))})


@bp.get("/runs/<int:run_id>")
@admin_required()
def get_run(run_id):
    """One run: its period and figures, and its first discrepancies (``?kind=``, ``?limit=``, at most 1,000)."""
    rt = runtime()
    return json_response({**reconciliation.get_run(rt, run_id), "discrepancies": reconciliation.discrepancies(
        rt, run_id, request.args.get("kind"), min(_int("limit", 100), 1000))})


@bp.get("/runs/<int:run_id>/discrepancies.csv")
@admin_required()
def discrepancies_csv(run_id):
    """Every discrepancy of a run as CSV (``?kind=``), streamed."""
    rows = reconciliation.discrepancies_csv(runtime(), run_id, request.args.get("kind"))
    return Response(stream_with_context(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mospay-reconciliation-{run_id}.csv"',
        "Cache-Control": "no-store"})


def _int(name, default):
    value = request.args.get(name, str(default))
    if not value.isdigit() or len(value) > 6:
        raise ValidationFailed(details={name: "must be a positive integer"})
    return max(1, int(value))
