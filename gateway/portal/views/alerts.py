"""Alerts: what is wrong now and what was, acknowledged by an admin; the rules, made and switched here."""

import time

from flask import current_app, flash, redirect, render_template, url_for
from flask_login import current_user

from gateway.admin import alert_rules
from gateway.admin.roles import WRITE_ROLES
from gateway.errors import MosPayError
from gateway.follow_up import alerts
from gateway.portal.blueprint import bp, roles_required
from gateway.portal.forms import AlertRuleForm
from gateway.portal.views import act, action_form, secret_page
from gateway.runtime import runtime

COUNTS_SECONDS = 5  # the sidebar badge is read on every page: a few seconds old is fine


@bp.app_context_processor
def _alerts_badge():
    def open_alerts():
        """Open alerts nobody acknowledged, for the sidebar (cached a few seconds per app)."""
        if not current_user.is_authenticated:
            return 0
        cached = current_app.extensions.setdefault("mospay_alerts", {"at": 0.0, "total": None})
        if cached["total"] is None or time.monotonic() - cached["at"] > COUNTS_SECONDS:
            cached["total"] = alerts.open_counts(runtime())["unacknowledged"]
            cached["at"] = time.monotonic()
        return cached["total"]
    return {"open_alerts": open_alerts}


@bp.get("/alerts")
def alerts_page(form=None):
    """Open alerts, the latest resolved ones, and the rules."""
    rt = runtime()
    return render_template("portal/alerts.html", open=alerts.list_alerts(rt, "open", 200),
                           history=alerts.list_alerts(rt, "resolved", 100), rules=alert_rules.list_rules(rt),
                           form=form or AlertRuleForm(), action=action_form(), kinds=alert_rules.KINDS)


@bp.get("/alerts/<int:alert_id>")
def alert_page(alert_id):
    """One alert and its history."""
    return render_template("portal/alert.html", alert=alerts.get_alert(runtime(), alert_id), action=action_form())


@bp.post("/alerts/<int:alert_id>/acknowledge")
@roles_required(*WRITE_ROLES)
def alert_acknowledge(alert_id):
    """Say you are on it (audited)."""
    return act(lambda: alerts.acknowledge(runtime(), alert_id, current_user.username),
               f"Alert {alert_id} acknowledged.", url_for("portal.alert_page", alert_id=alert_id))


@bp.post("/alerts/rules")
@roles_required(*WRITE_ROLES)
def alert_rule_create():
    """Create a rule; its webhook's signing secret is shown on this page only."""
    form = AlertRuleForm()
    if not form.validate_on_submit():
        flash("A rule needs a name, a kind and its parameters as a JSON object.", "danger")
        return alerts_page(form), 400
    try:
        payload = form.payload()
        created = alert_rules.create_rule(runtime(), payload, current_user.username)
    except (MosPayError, ValueError) as error:
        details = getattr(error, "details", None) or {}
        flash(" ".join(f"{k} {v}" for k, v in details.items()) or getattr(error, "message", str(error)), "danger")
        return alerts_page(form), getattr(error, "status", 400)
    flash(f"Rule {created['name']!r} created: the worker evaluates it from now on.", "success")
    if "webhook_secret" in created:
        return secret_page("portal/alert_rule_secret.html", rule=created)
    return redirect(url_for("portal.alerts_page"))


@bp.post("/alerts/rules/<int:rule_id>/<any(enable, disable):action>")
@roles_required(*WRITE_ROLES)
def alert_rule_toggle(rule_id, action):
    """Switch a rule on or off (off: its open alerts resolve at the next evaluation)."""
    return act(lambda: alert_rules.update_rule(runtime(), rule_id, {"enabled": action == "enable"},
                                               current_user.username),
               f"Rule {rule_id} {action}d.", url_for("portal.alerts_page"))

