"""The worker's jobs over the admin API: client callbacks (secret, URL, deliveries) and unknown outcomes."""

from flask import Blueprint, g, request

from gateway.admin import keyset, onboarding
from gateway.api import json_body, json_response
from gateway.api.admin import WRITE_ROLES, admin_required
from gateway.errors import ValidationFailed
from gateway.follow_up import deliveries, provider_callbacks, resolutions, unknown_outcome
from gateway.runtime import runtime

bp = Blueprint("admin_callbacks_api", __name__, url_prefix="/api/v1/admin")


@bp.post("/clients/<app_id>/callback-secret")
@admin_required(WRITE_ROLES)
def rotate_callback_secret(app_id):
    """A new secret signing the client's callbacks, in this answer only."""
    return json_response(onboarding.rotate_callback_secret(runtime(), app_id, g.user.username))


@bp.post("/clients/<app_id>/services/<microservice>/<service>/<route>/callback-token")
@admin_required(WRITE_ROLES)
def rotate_callback_token(app_id, microservice, service, route):
    """A new token for the route's provider callback URL (the old one stops working); the URL in this answer only."""
    key = {"microservice": microservice, "service": service, "route": route}
    return json_response(provider_callbacks.rotate_token(runtime(), app_id, key, g.user.username))


@bp.put("/clients/<app_id>/callback-url")
@admin_required(WRITE_ROLES)
def set_callback_url(app_id):
    """Set or clear (null) the URL that receives the client's signed callbacks."""
    return json_response(onboarding.set_callback_url(runtime(), app_id, json_body(), g.user.username))


def _limit():
    try:
        return int(request.args.get("limit", 100))
    except ValueError:
        raise ValidationFailed(details={"limit": "must be an integer"}) from None


@bp.get("/deliveries")
@admin_required()
def list_deliveries():
    """Client callback deliveries, newest first (?app_id=, ?state=queued|done|dead, ?limit=, ?after=|?before=)."""
    return json_response(deliveries.deliveries_page(
        runtime(), request.args.get("app_id"), request.args.get("state"), _limit(),
        keyset.cursor_args(request.args)).to_dict("deliveries"))


@bp.get("/unknown-outcomes")
@admin_required()
def list_unknown_outcomes():
    """Follow-ups of UNKNOWN payments, newest first (?app_id=, ?state=queued|done|manual, ?limit=, ?after=|?before=)."""
    return json_response(unknown_outcome.follow_ups_page(
        runtime(), request.args.get("app_id"), request.args.get("state"), _limit(),
        keyset.cursor_args(request.args)).to_dict("follow_ups"))


@bp.post("/deliveries/<int:delivery_id>/resend")
@admin_required(WRITE_ROLES)
def resend_delivery(delivery_id):
    """Queue a delivery again now, with a fresh retry budget."""
    return json_response(deliveries.resend(runtime(), delivery_id, g.user.username))


@bp.post("/transactions/<ref>/resolutions")
@admin_required(WRITE_ROLES)
def propose_resolution(ref):
    """Propose SUCCESS or FAILED for an UNKNOWN (or overdue PENDING) payment; a second admin approves it."""
    return json_response(resolutions.propose(runtime(), ref, json_body(), g.user.username), 201)


@bp.get("/resolutions")
@admin_required()
def list_resolutions():
    """Resolution proposals, newest first (?state=open|approved|rejected, default open; ?limit=)."""
    return json_response({"resolutions": resolutions.list_resolutions(
        runtime(), request.args.get("state", "open"), _limit())})


@bp.post("/resolutions/<int:resolution_id>/approve")
@admin_required(WRITE_ROLES)
def approve_resolution(resolution_id):
    """Approve another admin's proposal: the payment settles and the client is told."""
    return json_response(resolutions.approve(runtime(), resolution_id, g.user.username, _note()))


@bp.post("/resolutions/<int:resolution_id>/reject")
@admin_required(WRITE_ROLES)
def reject_resolution(resolution_id):
    """Reject a proposal: the payment stays as it is."""
    return json_response(resolutions.reject(runtime(), resolution_id, g.user.username, _note()))


def _note():
    """The optional ``{"note": …}`` of a decision."""
    note = json_body(required=False).get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise ValidationFailed(details={"note": "must be text of at most 500 characters"})
    return note
