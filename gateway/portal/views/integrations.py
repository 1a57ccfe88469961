"""New integration: sign-in to a new client's first successful payment in a handful of actions (issue 15 §3)."""

from types import SimpleNamespace

from flask import flash, redirect, render_template, url_for
from flask_login import current_user

from gateway.admin import client_scope, integrations, onboarding
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError, NotFound
from gateway.functions.templates import available_templates
from gateway.own_address import own_address
from gateway.portal import samples
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import IntegrationForm
from gateway.portal.views import action_form, form_failed, secret_page
from gateway.runtime import runtime


def _form():
    form = IntegrationForm()
    services = [(f"service:{s['microservice']}/{s['service']}/{s['route']}",
                 f"{s['microservice']} / {s['service']} / {s['route']} ({s['template']})")
                for s in onboarding.list_services(runtime())]
    templates = [(f"template:{name}", f"new service from template {name}") for name in available_templates()]
    form.provider.choices = [("", "— choose —"), *services, *templates]
    return form


@bp.route("/integrations/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def integration_new():
    """One form: the client, and an existing service or a template; the answer shows credentials and a curl."""
    form = _form()
    if form.validate_on_submit():
        try:
            created = integrations.create(runtime(), form.payload(), current_user.username)
        except MosPayError as error:
            return form_failed(form, error, "portal/integration_new.html")
        client, key = created["client"], created["service"]
        message = samples.sample_request({**key, "app_id": client["app_id"]})
        base = runtime().config.PUBLIC_URL or own_address()
        return secret_page("portal/integration_done.html", client=client, service=key, created=True,
                           message=samples.pretty(message), curl=samples.curl_command(base, message),
                           form=action_form())
    return render_template("portal/integration_new.html", form=form)


@bp.post("/integrations/<app_id>/<microservice>/<service>/<route>/test")
@roles_required(*WRITE_ROLES)
def integration_test(app_id, microservice, service, route):
    """Send a real payment on the client's route through the switch's own API, as the client; show its page."""
    rt = runtime()
    key = {"microservice": microservice, "service": service, "route": route}
    try:
        if not any(s["microservice"] == microservice and s["service"] == service and s["route"] == route
                   for s in onboarding.get_client(rt, app_id)["services"]):
            raise NotFound("The client has no such route.")
        message = {k: v for k, v in samples.sample_request({**key, "app_id": app_id}).items() if k != "f010"}
        answer = client_scope.send_test_payment(rt, SimpleNamespace(app_id=app_id), key, message, own_address())
    except MosPayError as error:
        flash(error.message, "danger")
        return redirect(url_for("portal.client", app_id=app_id))
    if not answer.get("transaction_ref"):
        problem = answer.get("error", {})
        flash(f"The test payment was refused ({answer['http_status']} {problem.get('code', '')}): "
              f"{problem.get('message', '')}", "danger")
        return redirect(url_for("portal.client", app_id=app_id))
    flash(f"Test payment {answer['unique_id']} answered {answer.get('status')} ({answer.get('code')}).", "info")
    return redirect(url_for("portal.transaction", ref=answer["transaction_ref"]))
