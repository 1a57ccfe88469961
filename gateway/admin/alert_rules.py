"""Alert rules an admin creates: what to watch, and whom to tell (a signed webhook, e-mails).

Kinds and their ``params`` (``subject``: one client's App-ID, service ``microservice/service/route`` or provider
microservice; absent: each one separately):

* ``success_rate``: ``scope`` client|service, ``threshold_percent``, ``minutes``, ``min_count`` (default 10);
* ``unknown_age``: UNKNOWN payments older than ``minutes``, at least ``min_count`` (default 1);
* ``circuit_open``: a provider's latest ``threshold`` payments within ``minutes`` (default 5) all failed to reach it;
* ``latency_p99``: ``scope`` switch|client|service, ``threshold_ms``, ``minutes``, ``min_count`` (default 20);
* ``dead_callbacks``: at least ``min_count`` (default 1) dead-lettered client callbacks per client;
* ``reconciliation``: a provider's latest reconciliation run found at least ``min_count`` (default 1) discrepancies;
* ``default_partition``: a table's DEFAULT partition holds at least ``min_count`` (default 1) rows: traffic outside
  every time partition, the worker's partition maintenance is behind (``subject``: a table, e.g. ``transactions``).

The webhook's signing secret is made with the rule, sealed at rest and shown in the creation answer only.
"""

from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.errors import AlreadyExists, NotFound, ValidationFailed
from gateway.hot_path.fields import FieldValidator, validate_message
from gateway.security.addresses import internal_address
from gateway.security.sealed import new_signing_secret

KINDS = ("success_rate", "unknown_age", "circuit_open", "latency_p99", "dead_callbacks", "reconciliation",
         "default_partition")
_MINUTES = {"type": "integer", "minimum": 1, "maximum": 10080}
_COUNT = {"type": "integer", "minimum": 1, "maximum": 1000000}
_PARAMS = {
    "success_rate": ({"scope": {"enum": ["client", "service"]}, "threshold_percent": {
        "type": "number", "exclusiveMinimum": 0, "maximum": 100}, "minutes": _MINUTES, "min_count": _COUNT},
        ["scope", "threshold_percent", "minutes"]),
    "unknown_age": ({"minutes": _MINUTES, "min_count": _COUNT}, ["minutes"]),
    "circuit_open": ({"minutes": _MINUTES, "threshold": {"type": "integer", "minimum": 1, "maximum": 1000}}, []),
    "latency_p99": ({"scope": {"enum": ["switch", "client", "service"]}, "threshold_ms": {
        "type": "number", "exclusiveMinimum": 0}, "minutes": _MINUTES, "min_count": _COUNT},
        ["threshold_ms", "minutes"]),
    "dead_callbacks": ({"min_count": _COUNT}, []),
    "reconciliation": ({"min_count": _COUNT}, []),
    "default_partition": ({"min_count": _COUNT}, []),
}
_SUBJECT = {"type": "string", "minLength": 1, "maxLength": 200}
_URL = {"type": "string", "pattern": r"^https?://[^\s/$.?#][^\s]*\Z", "maxLength": 2000}
_EMAIL = {"type": "string", "pattern": r"^[^@\s]{1,64}@[^@\s]{1,255}\Z"}
RULE = FieldValidator({
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": r"^[^\x00-\x1f]*\S[^\x00-\x1f]*\Z", "maxLength": 100},
        "kind": {"enum": list(KINDS)},
        "params": {"type": "object"},
        "webhook_url": {"anyOf": [_URL, {"type": "null"}]},
        "emails": {"type": "array", "items": _EMAIL, "maxItems": 20, "uniqueItems": True},
        "enabled": {"type": "boolean"},
    },
    "required": ["name", "kind", "params"],
    "additionalProperties": False,
})
PARAMS = {kind: FieldValidator({"type": "object", "properties": {**properties, "subject": _SUBJECT},
                                "required": required, "additionalProperties": False})
          for kind, (properties, required) in _PARAMS.items()}
UPDATE = FieldValidator({
    "type": "object",
    "properties": {"params": {"type": "object"}, "webhook_url": {"anyOf": [_URL, {"type": "null"}]},
                   "emails": RULE.schema["properties"]["emails"], "enabled": {"type": "boolean"}},
    "minProperties": 1,
    "additionalProperties": False,
})


def _validate(payload):
    """Every problem of a rule, its params named ``params.<key>``."""
    problems = {}
    for validator, value, prefix in ((RULE, payload, ""), (PARAMS.get(payload.get("kind")), payload.get("params"),
                                                           "params.")):
        if validator is None or (prefix and not isinstance(value, dict)):
            continue
        try:
            validate_message(validator, value)
        except ValidationFailed as error:
            problems.update({prefix + key: reason for key, reason in error.details.items()})
    if problems:
        raise ValidationFailed(details=problems)


def create_rule(rt, payload, actor):
    """Create a rule; its webhook's signing secret is in this answer only."""
    _validate(payload)
    _check_delivery(rt, payload)
    secret = new_signing_secret() if payload.get("webhook_url") else None
    with rt.db.transaction() as conn:
        row = conn.execute(Q.insert_alert_rule, {
            "name": payload["name"].strip(), "kind": payload["kind"], "params": Jsonb(payload["params"]),
            "webhook_url": payload.get("webhook_url"), "webhook_secret_sealed": secret and rt.sealer.seal(secret),
            "emails": payload.get("emails", []), "enabled": payload.get("enabled", True), "actor": actor}).fetchone()
        if row is None:
            raise AlreadyExists(f"An alert rule named {payload['name']!r} exists.")
        _audit(conn, actor, "alert_rule.create", row, None, _public(row))
    return {**_public(row), **({"webhook_secret": secret} if secret else {})}


def update_rule(rt, rule_id, payload, actor, rotate_secret=False):
    """Change a rule's params, delivery or enabled flag (its name and kind stay).

    A rule's first webhook, or ``rotate_secret``, makes a new signing secret: in this answer only.
    """
    validate_message(UPDATE, payload)
    with rt.db.transaction() as conn:
        before = conn.execute(Q.get_alert_rule, {"id": rule_id}).fetchone()
        if before is None:
            raise NotFound(f"No alert rule {rule_id}.")
        merged = {"name": before["name"], "kind": before["kind"], "params": before["params"],
                  "webhook_url": before["webhook_url"], "emails": before["emails"], "enabled": before["enabled"],
                  **payload}
        _validate(merged)
        _check_delivery(rt, merged)
        if rotate_secret and not merged["webhook_url"]:
            raise ValidationFailed(details={"webhook_url": "the rule has no webhook to sign for"})
        secret = new_signing_secret() if merged["webhook_url"] and (
            rotate_secret or not before["webhook_secret_sealed"]) else None
        row = conn.execute(Q.update_alert_rule, {
            "id": rule_id, "params": Jsonb(merged["params"]), "webhook_url": merged["webhook_url"],
            "emails": merged["emails"], "enabled": merged["enabled"],
            "webhook_secret_sealed": secret and rt.sealer.seal(secret)}).fetchone()
        _audit(conn, actor, "alert_rule.rotate_secret" if rotate_secret else "alert_rule.update", row,
               _public(before), _public(row))
    return {**_public(row), **({"webhook_secret": secret} if secret else {})}


def rotate_secret(rt, rule_id, actor):
    """A new signing secret for the rule's webhook (the old one stops at once); in this answer only."""
    rule = rt.db.fetch_one(Q.get_alert_rule, {"id": rule_id})
    if rule is None:
        raise NotFound(f"No alert rule {rule_id}.")
    return update_rule(rt, rule_id, {"enabled": rule["enabled"]}, actor, rotate_secret=True)


def delete_rule(rt, rule_id, actor):
    """Delete a rule and its alerts' history."""
    with rt.db.transaction() as conn:
        before = conn.execute(Q.get_alert_rule, {"id": rule_id}).fetchone()
        if before is None:
            raise NotFound(f"No alert rule {rule_id}.")
        conn.execute(Q.delete_alert_rule, {"id": rule_id})
        _audit(conn, actor, "alert_rule.delete", before, _public(before), None)
    return {"id": rule_id, "deleted": True}


def list_rules(rt, enabled_only=False):
    """Every rule (never its secret), with how many of its alerts are open."""
    return [{**_public(row), "open_alerts": row["open_alerts"]}
            for row in rt.db.fetch_all(Q.list_alert_rules, {"enabled_only": enabled_only})]


def enabled_rules(rt):
    """The rules the worker evaluates."""
    return rt.db.fetch_all(Q.list_alert_rules, {"enabled_only": True})


def _check_delivery(rt, payload):
    """A webhook is fetched from inside the switch's network: the same rule as client callback URLs (SSRF)."""
    url = payload.get("webhook_url")
    if url and not rt.config.ALLOW_PRIVATE_CALLBACKS and (address := internal_address(url)) is not None:
        raise ValidationFailed(details={"webhook_url": (
            f"must not point to a loopback, link-local or private address ({address}); an operator may allow "
            "it with MOSPAY_ALLOW_PRIVATE_CALLBACKS=1")})
    if payload.get("emails") and not rt.config.SMTP_HOST:
        raise ValidationFailed(details={"emails": "no SMTP server is configured (MOSPAY_SMTP_HOST)"})


def _public(row):
    return {k: row[k] for k in ("id", "name", "kind", "params", "webhook_url", "emails", "enabled", "created_by",
                                "created_at", "updated_at")}


def _audit(conn, actor, action, row, before, after):
    conn.execute(Q.insert_audit, {"actor": actor, "action": action, "target": f"alert_rule:{row['id']}",
                                  "before": Jsonb(before) if before else None,
                                  "after": Jsonb(after) if after else None})
