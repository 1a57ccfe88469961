"""Alerts: the worker evaluates every enabled rule on a schedule; an alert opens once, updates, resolves itself.

Each rule kind is one named query (``alert_condition_<kind>`` in ``sql/queries/alerts.sql``) answering the
subjects for which the condition holds now, with a value. For each: the open alert of (rule, subject) is
opened (once: a partial unique index) or updated; an open alert whose subject no longer appears is resolved.
Opening and resolving queue notifications (``alert_notification`` jobs: a signed webhook, e-mails) in the
same transaction, so an alert is told exactly as it is recorded. Acknowledging is audited.

A provider's circuit breaker is per process and in memory (``hot_path/circuit.py``), so no process can ask
another's; ``circuit_open`` reads what they all leave in the database instead: a provider whose latest payments
were all refused by an open circuit or failed to reach it (see the query).
"""

import logging
from decimal import Decimal

from psycopg.types.json import Jsonb

from gateway.admin import alert_rules
from gateway.db import Q
from gateway.errors import Conflict, NotFound, ValidationFailed
from gateway.follow_up import partitions, schedule

log = logging.getLogger(__name__)
STATES = ("open", "resolved")


def _summary(rule, row):
    params, subject = rule["params"], row["subject"] or "the switch"
    value, count = row["value"], row["count"]
    return {
        "success_rate": lambda: f"{subject}: success rate {value} % over {params['minutes']} min "
                                f"({count} payments), below {params['threshold_percent']} %",
        "unknown_age": lambda: f"{count} UNKNOWN payment(s) older than {params['minutes']} min",
        "circuit_open": lambda: f"{subject}: the provider's latest {count} payments did not reach it "
                                f"({value} refused by an open circuit)",
        "latency_p99": lambda: f"{subject}: p99 {value} ms over {params['minutes']} min ({count} payments), "
                               f"above {params['threshold_ms']} ms",
        "dead_callbacks": lambda: f"{subject}: {count} dead client callback(s)",
        "reconciliation": lambda: f"{subject}: {count} discrepancies in reconciliation run {row['run_id']}",
        "default_partition": lambda: f"{subject}: {count} row(s) in the DEFAULT partition, outside every time "
                                     "partition (partition maintenance is behind)",
    }[rule["kind"]]()


def _condition_params(rt, rule):
    params = rule["params"]
    return {"subject": params.get("subject"), "scope": params.get("scope", "switch"),
            "minutes": params.get("minutes", 5), "min_count": params.get("min_count", {
                "success_rate": 10, "latency_p99": 20}.get(rule["kind"], 1)),
            "threshold": params.get("threshold_percent", params.get("threshold_ms", params.get(
                "threshold", rt.config.CIRCUIT_THRESHOLD))), "cap": partitions.DEFAULT_ROWS_CAP}


@schedule.periodic("alerts", lambda config: config.ALERT_EVERY_SECONDS)
def evaluate(rt):
    """Evaluate every enabled rule now; returns ``{"opened", "updated", "resolved"}`` counts."""
    counts = {"opened": 0, "updated": 0, "resolved": 0}
    for rule in alert_rules.enabled_rules(rt):
        try:
            for key, n in _evaluate_rule(rt, rule).items():
                counts[key] += n
        except Exception:  # noqa: BLE001 - one rule's failure must not stop the others
            log.exception("alert rule %s (%s) could not be evaluated", rule["id"], rule["kind"])
    with rt.db.transaction() as conn:
        for alert in conn.execute(Q.resolve_alerts_of_disabled_rules).fetchall():
            counts["resolved"] += 1
            _event(conn, alert["id"], "resolved", None, f"rule disabled: {alert['summary']}")
    return counts


def _evaluate_rule(rt, rule):
    counts = {"opened": 0, "updated": 0, "resolved": 0}
    with rt.db.transaction() as conn:
        firing = conn.execute(getattr(Q, f"alert_condition_{rule['kind']}"), _condition_params(rt, rule)).fetchall()
        for row in firing:
            summary = _summary(rule, row)
            details = {k: str(v) if isinstance(v, Decimal) else v for k, v in row.items()}
            alert = conn.execute(Q.upsert_open_alert, {"rule_id": rule["id"], "subject": row["subject"],
                                                       "value": row["value"], "summary": summary,
                                                       "details": Jsonb(details)}).fetchone()
            if alert["opened"]:
                counts["opened"] += 1
                _event(conn, alert["id"], "opened", row["value"], summary)
                _notify(conn, rule, alert["id"], "opened")
            elif alert["previous_value"] != row["value"]:
                counts["updated"] += 1
                _event(conn, alert["id"], "updated", row["value"], summary)
        still = {row["subject"] for row in firing}
        for alert in conn.execute(Q.open_alerts_of_rule, {"rule_id": rule["id"]}).fetchall():
            if alert["subject"] not in still and conn.execute(Q.resolve_alert, {"id": alert["id"]}).fetchone():
                counts["resolved"] += 1
                _event(conn, alert["id"], "resolved", None, f"cleared: {alert['summary']}")
                _notify(conn, rule, alert["id"], "resolved")
    return counts


def _event(conn, alert_id, event, value, summary, actor=None):
    conn.execute(Q.insert_alert_event, {"alert_id": alert_id, "event": event, "actor": actor, "value": value,
                                        "summary": summary})


def _notify(conn, rule, alert_id, event):
    """Queue one notification per channel; the worker sends them (retried like client callbacks)."""
    targets = ([("webhook", rule["webhook_url"])] if rule["webhook_url"] else []) + [
        ("email", address) for address in rule["emails"]]
    for channel, target in targets:
        conn.execute(Q.queue_alert_notification, {"payload": Jsonb({"alert_id": alert_id, "event": event,
                                                                    "channel": channel, "target": target})})


def list_alerts(rt, state=None, limit=100):
    """Alerts, newest first (``open`` or ``resolved``; both when ``None``)."""
    if state is not None and state not in STATES:
        raise ValidationFailed(details={"state": f"must be one of {', '.join(STATES)}"})
    return rt.db.fetch_all(Q.list_alerts, {"state": state, "limit": max(1, min(int(limit), 500))})


def get_alert(rt, alert_id):
    """One alert with its history (opened, updated, resolved, acknowledged)."""
    row = rt.db.fetch_one(Q.get_alert, {"id": alert_id})
    if row is None:
        raise NotFound(f"No alert {alert_id}.")
    public = {k: v for k, v in row.items() if k not in ("webhook_url", "webhook_secret_sealed", "emails")}
    return {**public, "events": rt.db.fetch_all(Q.alert_events, {"alert_id": alert_id})}


def acknowledge(rt, alert_id, actor):
    """Someone is on it: recorded on the alert, in its history and in the audit log."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.acknowledge_alert, {"id": alert_id, "actor": actor}).fetchone()
        if row is None:
            if conn.execute(Q.get_alert, {"id": alert_id}).fetchone() is None:
                raise NotFound(f"No alert {alert_id}.")
            raise Conflict("This alert is already acknowledged.")
        _event(conn, alert_id, "acknowledged", None, row["summary"], actor)
        conn.execute(Q.insert_audit, {"actor": actor, "action": "alert.acknowledge", "target": f"alert:{alert_id}",
                                      "before": None, "after": Jsonb({"summary": row["summary"],
                                                                      "state": row["state"]})})
    return get_alert(rt, alert_id)


def open_counts(rt):
    """How many alerts are open, and how many of those nobody has acknowledged."""
    return rt.db.fetch_one(Q.open_alert_count)
