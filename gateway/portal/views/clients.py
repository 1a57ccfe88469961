"""Clients: list and search, create (credentials shown once), rotate, (de)activate, (un)assign services."""

from flask import render_template, request, url_for
from flask_login import current_user

from gateway.admin import onboarding
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import AssignForm, ClientForm
from gateway.portal.views import act, action_form, confirm_page, confirmed, form_failed, secret_page
from gateway.portal.views import client_users as client_users_view
from gateway.runtime import runtime

ROTATE_CONSEQUENCE = "Its current username and password stop working at once; the new ones are shown once."


@bp.get("/clients")
def clients():
    """Every client, optionally filtered by ``?q=`` (name or App-ID)."""
    query = request.args.get("q", "").strip()[:100]
    found = onboarding.list_clients(runtime())
    if query:
        needle = query.lower()
        found = [c for c in found if needle in c["name"].lower() or needle in c["app_id"]]
    return render_template("portal/clients.html", clients=found, q=query, form=action_form())


@bp.route("/clients/new", methods=["GET", "POST"])
@roles_required(*WRITE_ROLES)
def client_new():
    """Create a client; the answer is the client's page, showing its password this once."""
    form = ClientForm()
    if form.validate_on_submit():
        try:
            created = onboarding.create_client(runtime(), form.payload(), current_user.username)
        except MosPayError as error:
            return form_failed(form, error, "portal/client_new.html")
        # The answer is the new client's own page, ready for assigning, with the password this once.
        return secret_page("portal/client.html", credentials=created, **_client_context(created["app_id"]))
    return render_template("portal/client_new.html", form=form)


def _client_context(app_id):
    rt = runtime()
    found = onboarding.get_client(rt, app_id)
    assigned = {(s["microservice"], s["service"], s["route"]) for s in found["services"]}
    assign = AssignForm()
    assign.service.choices = [f"{s['microservice']}/{s['service']}/{s['route']}" for s in onboarding.list_services(rt)
                              if (s["microservice"], s["service"], s["route"]) not in assigned]
    return {"client": found, "assign": assign, "form": action_form(), "rotate_consequence": ROTATE_CONSEQUENCE,
            **client_users_view.context(rt, app_id)}


@bp.get("/clients/<app_id>")
def client(app_id):
    """One client: its routes, and the forms to change it."""
    return render_template("portal/client.html", credentials=None, **_client_context(app_id))


@bp.post("/clients/<app_id>/rotate")
@roles_required(*WRITE_ROLES)
def client_rotate(app_id):
    """New credentials, once confirmed; the answer page shows them, this once."""
    if not confirmed():
        return confirm_page("Rotate credentials", f"Rotate the credentials of {app_id}?", ROTATE_CONSEQUENCE,
                            url_for("portal.client_rotate", app_id=app_id), url_for("portal.client", app_id=app_id))
    rotated = onboarding.rotate_credentials(runtime(), app_id, current_user.username)
    return secret_page("portal/credentials.html", client={**onboarding.get_client(runtime(), app_id), **rotated},
                       created=False)


@bp.post("/clients/<app_id>/<any(activate, deactivate):action>")
@roles_required(*WRITE_ROLES)
def client_active(app_id, action):
    """Activate or deactivate a client."""
    active = action == "activate"
    return act(lambda: onboarding.set_client_active(runtime(), app_id, active, current_user.username),
               f"Client {app_id} {'activated' if active else 'deactivated'}.", url_for("portal.client", app_id=app_id))


@bp.post("/clients/<app_id>/assign")
@roles_required(*WRITE_ROLES)
def client_assign(app_id):
    """Assign a service: generates the client's two functions and its route file."""
    form = AssignForm()
    back = url_for("portal.client", app_id=app_id)
    return act(lambda: onboarding.assign_service(runtime(), app_id, form.payload(), current_user.username),
               f"Assigned {form.service.data}: its functions were generated.", back)


@bp.post("/clients/<app_id>/routes/<microservice>/<service>/<route>/unassign")
@roles_required(*WRITE_ROLES)
def client_unassign(app_id, microservice, service, route):
    """Take a service away from a client (only while it has no transactions)."""
    key = {"microservice": microservice, "service": service, "route": route}
    return act(lambda: onboarding.unassign_service(runtime(), app_id, key, current_user.username),
               f"Removed {microservice}/{service}/{route} from {app_id}.", url_for("portal.client", app_id=app_id))
