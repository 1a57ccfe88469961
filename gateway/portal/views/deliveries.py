"""Client callback deliveries: listed and filtered, re-sent by an admin."""

from flask import render_template, request, url_for
from flask_login import current_user

from gateway.admin import keyset, onboarding
from gateway.admin.roles import WRITE_ROLES
from gateway.follow_up import deliveries
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.views import act, action_form
from gateway.runtime import runtime


@bp.get("/deliveries")
def deliveries_page():
    """Deliveries, newest first (``?client=``, ``?state=queued|done|dead``; ``?after=``/``?before=`` cursors)."""
    rt = runtime()
    state = request.args.get("state") if request.args.get("state") in deliveries.STATES else None
    page = deliveries.deliveries_page(rt, request.args.get("client") or None, state, 50,
                                      keyset.cursor_args(request.args, lenient=True))
    return render_template("portal/deliveries.html", page=page, args=request.args, states=deliveries.STATES,
                           clients=[c["app_id"] for c in onboarding.list_clients(rt)], form=action_form())


@bp.post("/deliveries/<int:delivery_id>/resend")
@roles_required(*WRITE_ROLES)
def delivery_resend(delivery_id):
    """Queue a delivery again now."""
    return act(lambda: deliveries.resend(runtime(), delivery_id, current_user.username),
               f"Delivery {delivery_id} queued again: the worker sends it next.", url_for("portal.deliveries_page"))
