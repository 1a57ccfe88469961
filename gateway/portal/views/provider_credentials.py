"""Provider credentials in the portal: write-only fields (a value is typed, stored sealed, never shown again)."""

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from gateway.admin import credentials
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.views import action_form
from gateway.runtime import runtime

_NAME_FIELD, _VALUE_FIELD = "extra_name", "extra_value"


def _key(microservice, service, route):
    return {"microservice": microservice, "service": service, "route": route}


def _typed_values(summary):
    """The values typed into the form: one per required or stored name, plus one named freely; blank ones skipped."""
    values = {}
    for name in dict.fromkeys([*summary["required"], *summary["names"], *summary.get("inherited", [])]):
        value = request.form.get(f"value_{name}", "")
        if value:
            values[name] = value
    extra_name, extra_value = request.form.get(_NAME_FIELD, "").strip(), request.form.get(_VALUE_FIELD, "")
    if extra_name and extra_value:
        values[extra_name] = extra_value
    return values


def _page(summary, title, action, back):
    return render_template("portal/provider_credentials.html", summary=summary, title=title, action=action,
                           back=back, form=action_form())


def _store(store, summary, success_back):
    values = _typed_values(summary)
    if not values:
        flash("Type at least one value: empty fields keep what is stored.", "warning")
        return redirect(request.path)
    try:
        stored = store({"values": values})
    except MosPayError as error:
        flash(error.message + (f" {error.details}" if error.details else ""), "danger")
        return redirect(request.path)
    missing = f" Still missing: {', '.join(stored['missing'])}." if stored["missing"] else ""
    flash(f"Stored (sealed): {', '.join(sorted(values))}.{missing}", "success" if not missing else "warning")
    return redirect(success_back)


@bp.route("/services/<microservice>/<service>/<route>/provider-credentials", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def service_provider_credentials(microservice, service, route):
    """A service's provider credentials: names only, values write-only."""
    key, rt = _key(microservice, service, route), runtime()
    summary = credentials.service_credentials(rt, key)
    if request.method == "POST" and action_form().validate_on_submit():
        return _store(lambda payload: credentials.set_service_credentials(rt, key, payload, current_user.username),
                      summary, url_for("portal.services"))
    return _page(summary, f"{microservice}/{service}/{route}", request.path, url_for("portal.services"))


@bp.route("/clients/<app_id>/routes/<microservice>/<service>/<route>/provider-credentials", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def route_provider_credentials(app_id, microservice, service, route):
    """One client route's own provider credentials (they override the service's): names only, values write-only."""
    key, rt = _key(microservice, service, route), runtime()
    summary = credentials.route_credentials(rt, app_id, key)
    back = url_for("portal.client", app_id=app_id)
    if request.method == "POST" and action_form().validate_on_submit():
        return _store(lambda payload: credentials.set_route_credentials(rt, app_id, key, payload,
                                                                        current_user.username), summary, back)
    return _page(summary, f"{app_id}: {microservice}/{service}/{route}", request.path, back)
