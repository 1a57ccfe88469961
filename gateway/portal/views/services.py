"""Services (create/edit with the f004–f009 field editor) and routes (YAML: view, edit, enable/disable)."""

import re

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from gateway.admin import onboarding, reports, routes_config
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError, NotFound
from gateway.functions.templates import available_templates
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import RouteYamlForm, ServiceForm
from gateway.portal.views import act, action_form, form_failed
from gateway.runtime import runtime

_ROW_PROBLEM = re.compile(r"^fields\[(\d+)\]\.?(\w*)$")


@bp.get("/services")
def services():
    """Every service with its fields."""
    return render_template("portal/services.html", services=onboarding.list_services(runtime()))


def _service_form(service=None):
    data = {k: v for k, v in service.items() if k != "fields"} if service and request.method != "POST" else None
    form = ServiceForm(data=data)
    form.template.choices = list(available_templates())
    if request.method != "POST":
        form.fill_fields(service["fields"] if service else [])
    return form


def _place_field_problems(form, error):
    """Put ``fields[i].key`` problems on the editor row they came from."""
    _, rows = form.field_definitions()
    details = dict(error.details or {}) if isinstance(error.details, dict) else {}
    for key in list(details):
        match = _ROW_PROBLEM.match(key)
        if match and int(match.group(1)) < len(rows):
            row = form.fields[rows[int(match.group(1))]].form
            target = getattr(row, match.group(2), None) or row.name
            target.errors = [*target.errors, details.pop(key)]
    error.details = details or None
    return error


def _find_service(microservice, service, route):
    for found in onboarding.list_services(runtime()):
        if (found["microservice"], found["service"], found["route"]) == (microservice, service, route):
            return found
    raise NotFound("No such service.")


@bp.route("/services/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def service_new():
    """Register a microservice / service / route with its fields."""
    form = _service_form()
    if form.validate_on_submit():
        try:
            created = onboarding.create_service(runtime(), form.payload(), current_user.username)
        except MosPayError as error:
            return form_failed(form, _place_field_problems(form, error), "portal/service_form.html", editing=None)
        flash(f"Service {created['microservice']}/{created['service']}/{created['route']} created: "
              "assign it to a client from the client's page.", "success")
        return redirect(url_for("portal.services"))
    return render_template("portal/service_form.html", form=form, editing=None)


@bp.route("/services/<microservice>/<service>/<route>/edit", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def service_edit(microservice, service, route):
    """Change a service's upstream, template or fields (the key stays)."""
    current = _find_service(microservice, service, route)
    form = _service_form(current)
    form.microservice.data, form.service.data, form.route.data = microservice, service, route
    if form.validate_on_submit():
        try:
            onboarding.update_service(runtime(), current, form.payload(with_key=False), current_user.username)
        except MosPayError as error:
            return form_failed(form, _place_field_problems(form, error), "portal/service_form.html", editing=current)
        flash(f"Service {microservice}/{service}/{route} updated.", "success")
        return redirect(url_for("portal.services"))
    return render_template("portal/service_form.html", form=form, editing=current)


@bp.get("/routes")
def routes():
    """Every client-service route with its YAML; ``?client=`` narrows to one client."""
    app_id = request.args.get("client", "").strip()[:40] or None
    return render_template("portal/routes.html", routes=reports.routes(runtime(), app_id), client=app_id,
                           form=action_form())


@bp.post("/routes/<app_id>/<microservice>/<service>/<route>/<any(enable, disable):action>")
@roles_required(*WRITE_ROLES)
def route_enabled(app_id, microservice, service, route, action):
    """Enable or disable one client's route."""
    key = {"microservice": microservice, "service": service, "route": route}
    enabled = action == "enable"
    back = request.form.get("back") or url_for("portal.routes")
    if not back.startswith("/portal/"):
        back = url_for("portal.routes")
    return act(lambda: onboarding.set_route_enabled(runtime(), app_id, key, enabled, current_user.username),
               f"Route {app_id}: {microservice}/{service}/{route} {'enabled' if enabled else 'disabled'}.", back)


@bp.route("/routes/<app_id>/<microservice>/<service>/<route>/edit", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def route_edit(app_id, microservice, service, route):
    """Edit one route's YAML (routing rules and all): checked as ``route-config apply`` checks a file."""
    rt = runtime()
    key = {"app_id": app_id, "microservice": microservice, "service": service, "route": route}
    current = next((r for r in reports.routes(rt, app_id) if (r["microservice"], r["service"], r["route"]) ==
                    (microservice, service, route)), None)
    if current is None:
        raise NotFound("The client has no such route.")
    form = RouteYamlForm()
    if request.method == "GET":
        form.document.data = current["yaml"]
    elif form.validate_on_submit():
        try:
            changed = routes_config.save(rt.db, rt.config.ROUTES_DIR, key, form.document.data, current_user.username)
        except routes_config.RouteConfigError as problem:
            form.document.errors = [str(problem)]
            return render_template("portal/route_edit.html", form=form, key=key), 400
        rt.registry.reload()
        flash(f"Route {app_id}: {microservice}/{service}/{route} saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("portal.routes", client=app_id))
    return render_template("portal/route_edit.html", form=form, key=key)
