"""Alerts over the admin API: rules (create, list, change, delete) and alerts (list, read, acknowledge)."""

from flask import Blueprint, g, request

from gateway.admin import alert_rules
from gateway.api import json_body, json_response
from gateway.api.admin import WRITE_ROLES, admin_required
from gateway.errors import ValidationFailed
from gateway.follow_up import alerts
from gateway.runtime import runtime

bp = Blueprint("admin_alerts_api", __name__, url_prefix="/api/v1/admin/alerts")


@bp.get("/rules")
@admin_required()
def list_rules():
    """Every alert rule, with how many of its alerts are open."""
    return json_response({"rules": alert_rules.list_rules(runtime())})


@bp.post("/rules")
@admin_required(WRITE_ROLES)
def create_rule():
    """Create a rule; the webhook's signing secret is in this answer only."""
    return json_response(alert_rules.create_rule(runtime(), json_body(), g.user.username), 201)


@bp.patch("/rules/<int:rule_id>")
@admin_required(WRITE_ROLES)
def update_rule(rule_id):
    """Change a rule's params, webhook URL, e-mails or enabled flag."""
    return json_response(alert_rules.update_rule(runtime(), rule_id, json_body(), g.user.username))


@bp.post("/rules/<int:rule_id>/webhook-secret")
@admin_required(WRITE_ROLES)
def rotate_webhook_secret(rule_id):
    """A new signing secret for the rule's webhook, in this answer only; the old one stops at once."""
    return json_response(alert_rules.rotate_secret(runtime(), rule_id, g.user.username))


@bp.delete("/rules/<int:rule_id>")
@admin_required(WRITE_ROLES)
def delete_rule(rule_id):
    """Delete a rule and its alerts."""
    return json_response(alert_rules.delete_rule(runtime(), rule_id, g.user.username))


@bp.get("")
@admin_required()
def list_alerts():
    """Alerts, newest first (``?state=open|resolved``, ``?limit=``)."""
    limit = request.args.get("limit", "100")
    if not limit.isdigit() or len(limit) > 6:
        raise ValidationFailed(details={"limit": "must be a positive integer"})
    return json_response({"alerts": alerts.list_alerts(runtime(), request.args.get("state"), int(limit))})


@bp.get("/<int:alert_id>")
@admin_required()
def get_alert(alert_id):
    """One alert and its history."""
    return json_response(alerts.get_alert(runtime(), alert_id))


@bp.post("/<int:alert_id>/acknowledge")
@admin_required(WRITE_ROLES)
def acknowledge(alert_id):
    """Say someone is on it (audited)."""
    return json_response(alerts.acknowledge(runtime(), alert_id, g.user.username))
