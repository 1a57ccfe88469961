"""Reconciliation pages: upload a provider's statement, read a run's figures and discrepancies, edit mappings."""

from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_login import current_user

from gateway.admin import onboarding, reconciliation
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import StatementForm, StatementMappingForm
from gateway.runtime import runtime


@bp.before_app_request
def _statement_upload_limit():
    """A statement is bigger than a form: raise the body limit before the CSRF check parses the upload."""
    if request.endpoint == "portal.reconciliation_upload":
        request.max_content_length = runtime().config.MAX_STATEMENT_BYTES


def _providers(rt):
    return sorted({s["microservice"] for s in onboarding.list_services(rt)})


@bp.get("/reconciliation")
def reconciliation_page():
    """The latest runs and the upload form."""
    rt = runtime()
    form = StatementForm()
    form.microservice.choices = _providers(rt)
    return render_template("portal/reconciliation.html", runs=reconciliation.list_runs(rt, None, 50), form=form)


@bp.post("/reconciliation/runs")
@roles_required(*WRITE_ROLES)
def reconciliation_upload():
    """Reconcile the uploaded statement; show its run (the earlier one for the same file)."""
    rt = runtime()
    form = StatementForm()
    form.microservice.choices = _providers(rt)
    back = url_for("portal.reconciliation_page")
    if not form.validate_on_submit():
        flash("Choose a provider and a statement file (CSV).", "danger")
        return redirect(back)
    upload = form.statement.data
    try:
        result = reconciliation.run(rt, form.microservice.data, upload.read(), current_user.username,
                                    upload.filename, form.date_from.data or None, form.date_to.data or None)
    except MosPayError as error:
        flash(" ".join(f"{k}: {v}" for k, v in (error.details or {}).items()) or error.message, "danger")
        return redirect(back)
    figures = result["figures"]
    flash(f"This file was reconciled before: run {result['id']}." if result["replayed"] else
          f"Reconciled {figures['lines']} lines: {figures['discrepancies']} discrepancies, "
          f"{figures['proposals']} proposal(s) for a second admin.", "info" if result["replayed"] else "success")
    return redirect(url_for("portal.reconciliation_run", run_id=result["id"]))


@bp.get("/reconciliation/runs/<int:run_id>")
def reconciliation_run(run_id):
    """A run's figures and its discrepancies (``?kind=``; the first 500: the CSV has them all)."""
    rt = runtime()
    kind = request.args.get("kind") if request.args.get("kind") in reconciliation.KINDS[1:] else None
    return render_template("portal/reconciliation_run.html", run=reconciliation.get_run(rt, run_id),
                           items=reconciliation.discrepancies(rt, run_id, kind, 500), kind=kind,
                           kinds=reconciliation.KINDS)


@bp.get("/reconciliation/runs/<int:run_id>.csv")
def reconciliation_csv(run_id):
    """Every discrepancy of a run as CSV, streamed."""
    rows = reconciliation.discrepancies_csv(runtime(), run_id, request.args.get("kind") or None)
    return Response(stream_with_context(rows), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="mospay-reconciliation-{run_id}.csv"',
        "Cache-Control": "no-store"})


@bp.get("/reconciliation/mappings/<microservice>")
def reconciliation_mapping(microservice):
    """A provider's statement columns, its key and its status words (an admin edits them here)."""
    current = reconciliation.mapping(runtime(), microservice)
    return _mapping_page(StatementMappingForm(data=StatementMappingForm.initial(current)), microservice, current)


@bp.post("/reconciliation/mappings/<microservice>")
@roles_required(*WRITE_ROLES)
def reconciliation_mapping_save(microservice):
    """Save a provider's statement columns (audited)."""
    rt = runtime()
    current = reconciliation.mapping(rt, microservice)
    form = StatementMappingForm()
    if not form.validate_on_submit():
        return _mapping_page(form, microservice, current), 400
    try:
        reconciliation.save_mapping(rt, microservice, form.payload(), current_user.username)
    except MosPayError as error:
        flash(" ".join(f"{k}: {v}" for k, v in (error.details or {}).items()) or error.message, "danger")
        return _mapping_page(form, microservice, current), error.status
    flash(f"Statement columns of {microservice} saved.", "success")
    return redirect(url_for("portal.reconciliation_page"))


def _mapping_page(form, microservice, current):
    return render_template("portal/reconciliation_mapping.html", form=form, microservice=microservice,
                           mapping=current, defaults=reconciliation.DEFAULT_STATUSES)
