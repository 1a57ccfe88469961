"""Needs attention: the payments an operator must settle by hand, and the proposals waiting for a second admin."""

import time

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.follow_up import resolutions
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import ResolutionForm
from gateway.portal.views import act, action_form, confirm_page, confirmed
from gateway.runtime import runtime

COUNTS_SECONDS = 5  # the sidebar badge is read on every page: a few seconds old is fine


@bp.app_context_processor
def _attention_badge():
    def attention():
        """Open items for the sidebar badge (cached a few seconds per app, in its extensions)."""
        if not current_user.is_authenticated:
            return 0
        cached = current_app.extensions.setdefault("mospay_attention", {"at": 0.0, "total": None})
        if cached["total"] is None or time.monotonic() - cached["at"] > COUNTS_SECONDS:
            cached["total"] = sum(resolutions.attention_counts(runtime()).values())
            cached["at"] = time.monotonic()
        return cached["total"]
    return {"attention": attention}


@bp.get("/attention")
def attention_page():
    """UNKNOWN and overdue PENDING payments, dead callbacks and open proposals."""
    rt = runtime()
    counts = resolutions.attention_counts(rt)
    return render_template("portal/attention.html", counts=counts, payments=resolutions.attention_payments(rt),
                           proposals=resolutions.list_resolutions(rt, "open"), form=ResolutionForm(),
                           action=action_form(), overdue_minutes=rt.config.PENDING_OVERDUE_MINUTES,
                           four_eyes=rt.config.RESOLUTION_APPROVALS > 1)


@bp.post("/attention/<ref>/propose")
@roles_required(*WRITE_ROLES)
def attention_propose(ref):
    """Propose a final state for one payment."""
    form = ResolutionForm()
    back = url_for("portal.attention_page")
    if not form.validate_on_submit():
        flash("A proposal needs a final state and a reason of 3 to 500 characters.", "danger")
        return redirect(back)
    payload = {"status": form.status.data, "reason": form.reason.data,
               "evidence": {"provider_ref": form.provider_ref.data} if form.provider_ref.data else {}}
    try:
        done = resolutions.propose(runtime(), ref, payload, current_user.username)
    except MosPayError as error:
        flash(error.message, "danger")
        return redirect(back)
    flash(f"Payment {ref} settled {done['status']}." if done["state"] == "approved" else
          f"Proposed {payload['status']} for {ref}: another admin approves it.", "success")
    return redirect(back)


@bp.post("/resolutions/<int:resolution_id>/approve")
@roles_required(*WRITE_ROLES)
def resolution_approve(resolution_id):
    """Approve another admin's proposal, once confirmed: the payment settles."""
    back = url_for("portal.attention_page")
    if not confirmed():
        return confirm_page("Approve", f"Settle the payment of proposal {resolution_id} as proposed?",
                            "The payment becomes final and its client is told; this cannot be undone.",
                            url_for("portal.resolution_approve", resolution_id=resolution_id), back)
    return act(lambda: resolutions.approve(runtime(), resolution_id, current_user.username),
               f"Proposal {resolution_id} approved: the payment is settled.", back)


@bp.post("/resolutions/<int:resolution_id>/reject")
@roles_required(*WRITE_ROLES)
def resolution_reject(resolution_id):
    """Reject a proposal: the payment stays as it is."""
    return act(lambda: resolutions.reject(runtime(), resolution_id, current_user.username),
               f"Proposal {resolution_id} rejected.", url_for("portal.attention_page"))
