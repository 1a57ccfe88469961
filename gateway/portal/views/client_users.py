"""Client portal accounts on the admin portal's client page: invite (the link shown once), (de)activate."""

from flask import flash, redirect, url_for
from flask_login import current_user

from gateway.admin import client_users
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import InviteForm
from gateway.portal.views import act, secret_page
from gateway.runtime import runtime


def context(rt, app_id):
    """What the client page shows of its portal users."""
    return {"client_users": client_users.list_users(rt, app_id), "invite": InviteForm(prefix="invite")}


@bp.post("/clients/<app_id>/users")
@roles_required(*WRITE_ROLES)
def client_user_invite(app_id):
    """Invite an e-mail address to the client portal; the answer shows the invitation link, this once."""
    form = InviteForm(prefix="invite")
    try:
        invited = client_users.invite(runtime(), app_id, {"email": (form.email.data or "").strip()},
                                      current_user.username)
    except MosPayError as error:
        details = " ".join(f"{key} {problem}" for key, problem in (error.details or {}).items())
        flash(f"{error.message} {details}".strip(), "danger")
        return redirect(url_for("portal.client", app_id=app_id))
    return secret_page("portal/client_invitation.html", invited=invited, app_id=app_id)


@bp.post("/clients/<app_id>/users/<int:user_id>/<any(activate, deactivate):action>")
@roles_required(*WRITE_ROLES)
def client_user_active(app_id, user_id, action):
    """Let a client user sign in again, or stop them."""
    active = action == "activate"
    return act(lambda: client_users.set_active(runtime(), app_id, user_id, active, current_user.username),
               f"Portal user {'activated' if active else 'deactivated'}.", url_for("portal.client", app_id=app_id))
