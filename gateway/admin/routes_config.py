"""Route definitions as YAML under ``routes_config/<app_id>/``.

One document per client-service route: its key, function names, upstream,
retry policy, field rules and enabled flag. The files can be reviewed
like code; ``validate``, ``export``, ``diff`` and ``apply`` keep them and
the database in step. The database is what instances run from.
"""

import difflib
from decimal import Decimal, InvalidOperation
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator
from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.hot_path.fields import check_field_definitions
from gateway.hot_path.forwarder import METHODS
from gateway.naming import NAME_PART, function_names, status_function_name

_NAME = {"type": "string", "pattern": NAME_PART.pattern, "maxLength": 40}
_HOUR = r"^([01][0-9]|2[0-3]):[0-5][0-9]\Z"
ROUTE_SCHEMA = {
    "type": "object",
    "required": ["key", "functions", "upstream", "enabled"],
    "additionalProperties": False,
    "properties": {
        "key": {
            "type": "object", "additionalProperties": False,
            "required": ["app_id", "microservice", "service", "route"],
            "properties": {"app_id": _NAME, "microservice": _NAME, "service": _NAME, "route": _NAME},
        },
        "functions": {
            "type": "object", "additionalProperties": False, "required": ["request", "response"],
            "properties": {"request": {"type": "string"}, "response": {"type": "string"},
                           "status": {"type": "string"}},  # the STATUS function, when the template has one
        },
        "upstream": {
            "type": "object", "additionalProperties": False, "required": ["url"],
            "properties": {
                "url": {"type": "string", "pattern": r"^https?://\S+\Z"},
                "method": {"enum": list(METHODS)},
                "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 60000},
            },
        },
        "retry": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "max_attempts": {"type": "integer", "minimum": 1, "maximum": 5},
                "on": {"type": "array", "items": {"enum": ["connection", "timeout", "5xx"]}},
                "allow_post": {"type": "boolean"},
            },
        },
        "fields": {"type": "array"},
        "status_query": {
            "type": "object", "additionalProperties": False, "required": ["url"],
            "properties": {"url": {"type": "string", "pattern": r"^https?://\S+\Z"},
                           "method": {"enum": ["GET", "POST"]}},
        },
        # What happens when a payment ends UNKNOWN: the worker (``flask worker``) follows it up.
        "on_unknown": {
            "type": "object", "additionalProperties": False, "required": ["policy"],
            "properties": {
                "policy": {"enum": ["status_query", "reverse", "manual"]},
                "schedule": {"type": "array", "minItems": 1, "maxItems": 20,
                             "items": {"type": "integer", "minimum": 1, "maximum": 86400}},
                "deadline_seconds": {"type": "integer", "minimum": 1, "maximum": 7 * 86400},
                "reversal_route": _NAME,
            },
            "if": {"properties": {"policy": {"const": "reverse"}}},
            "then": {"required": ["reversal_route"]},
        },
        # Routing rules (issue 15 §2, gateway/hot_path/routing.py): the first rule the message meets sends it to
        # its targets, other routes of the same client, by priority then weight; failover only if nothing was sent.
        "routing": {
            "type": "object", "additionalProperties": False, "required": ["rules"],
            "properties": {"rules": {"type": "array", "maxItems": 50, "items": {
                "type": "object", "additionalProperties": False, "required": ["targets"],
                "properties": {
                    "name": {"type": "string", "maxLength": 100},
                    "when": {"type": "object", "additionalProperties": False, "properties": {
                        "amount": {"type": "object", "additionalProperties": False, "minProperties": 1,
                                   "properties": {"min": {"type": ["number", "string"]},
                                                  "max": {"type": ["number", "string"]}}},
                        "currency": {"type": "array", "minItems": 1,
                                     "items": {"type": "string", "pattern": "^[A-Z]{3}$"}},
                        "msisdn_prefix": {"type": "array", "minItems": 1,
                                          "items": {"type": "string", "pattern": "^[0-9]{1,15}$"}},
                        "hours": {"type": "object", "additionalProperties": False, "required": ["from", "to"],
                                  "properties": {"from": {"type": "string", "pattern": _HOUR},
                                                 "to": {"type": "string", "pattern": _HOUR}}},
                    }},
                    "targets": {"type": "array", "minItems": 1, "maxItems": 10, "items": {
                        "type": "object", "additionalProperties": False,
                        "required": ["microservice", "service", "route"],
                        "properties": {"microservice": _NAME, "service": _NAME, "route": _NAME,
                                       "priority": {"type": "integer", "minimum": 1, "maximum": 100},
                                       "weight": {"type": "number", "minimum": 0, "maximum": 1000}},
                    }},
                },
            }}},
        },
        # How PENDING payments are followed up (routes with a STATUS function): the status query on this
        # schedule until SUCCESS or FAILED; past the deadline the payment becomes UNKNOWN for an operator.
        "on_pending": {
            "type": "object", "additionalProperties": False,
            "properties": {
                "schedule": {"type": "array", "minItems": 1, "maxItems": 20,
                             "items": {"type": "integer", "minimum": 1, "maximum": 86400}},
                "deadline_seconds": {"type": "integer", "minimum": 1, "maximum": 7 * 86400},
            },
        },
        "enabled": {"type": "boolean"},
    },
}
_VALIDATOR = Draft202012Validator(ROUTE_SCHEMA)


class RouteConfigError(ValueError):
    """A route file is invalid; the message names the file and the place."""


class _RouteLoader(yaml.SafeLoader):
    """``yaml.safe_load`` without aliases: a route needs none, and nested ones expand a few hundred bytes
    into millions of values (seconds of CPU and gigabytes of memory in validation)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed in a route",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _load(text):
    return yaml.load(text, Loader=_RouteLoader)  # noqa: S506 - a SafeLoader, aliases refused


def route_path(routes_dir, key):
    """``routes_config/<app_id>/<microservice>_<service>_<route>.yaml``."""
    return Path(routes_dir) / key["app_id"] / f"{key['microservice']}_{key['service']}_{key['route']}.yaml"


def route_document(app_id, service, names, enabled, overrides, status_function=None):
    """The YAML document of a route, with effective values (service defaults + overrides); ``status_function``
    (default: the row's own) names the route's STATUS function in ``functions.status``."""
    upstream = {"url": service["url"], "method": service["method"], "timeout_ms": service["timeout_ms"],
                **overrides.get("upstream", {})}
    document = {
        "key": {"app_id": app_id, "microservice": service["microservice"],
                "service": service["service"], "route": service["route"]},
        "functions": {"request": names[0], "response": names[1],
                      **({"status": status} if (status := status_function or service.get("status_function")) else {})},
        "upstream": upstream,
        "retry": overrides.get("retry", {"max_attempts": 1, "on": [], "allow_post": False}),
        "fields": overrides.get("fields", service["fields"]),
        "enabled": enabled,
    }
    for optional in ("status_query", "on_pending", "on_unknown", "routing"):
        if optional in overrides:
            document[optional] = overrides[optional]
    return document


_KEY_ORDER = ("key", "functions", "upstream", "retry", "status_query", "on_pending", "on_unknown", "routing", "fields",
              "enabled", "rules", "when", "targets", "amount", "currency", "msisdn_prefix", "hours", "from", "to",
              "priority", "weight", "policy", "schedule", "deadline_seconds", "reversal_route",
              "app_id", "microservice", "service", "route", "request", "response", "url", "method", "timeout_ms",
              "max_attempts", "on", "allow_post", "code", "name", "type", "required", "pattern", "min", "max",
              "values", "description")


def canonical(value):
    """``value`` with every mapping's keys in one fixed order, so equal routes dump to equal text."""
    if isinstance(value, dict):
        rank = {key: index for index, key in enumerate(_KEY_ORDER)}
        ordered = sorted(value, key=lambda k: (rank.get(k, len(rank)), str(k)))
        return {key: canonical(value[key]) for key in ordered}
    if isinstance(value, list):
        return [canonical(item) for item in value]
    return value


def dump(document):
    """The document as YAML text (keys in canonical order), with a header saying where it comes from."""
    document = canonical(document)
    key = document["key"]
    header = (f"# MosPay route {key['app_id']}: {key['microservice']}.{key['service']}.{key['route']}\n"
              "# Generated on assignment; edit, then `flask --app app route-config diff`\n"
              "# and `flask --app app route-config apply`.\n")
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True)


def write(routes_dir, document):
    """Write a route file atomically; returns its path."""
    path = route_path(routes_dir, document["key"])
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".yaml.tmp")
    temporary.write_text(dump(document))
    temporary.replace(path)
    return path


def validate_document(document, where):
    """Raise ``RouteConfigError`` naming ``where`` and the place of the first problem."""
    errors = sorted(_VALIDATOR.iter_errors(document), key=lambda e: list(e.path))
    if errors:
        error = errors[0]
        place = ".".join(str(p) for p in error.path) or "(document)"
        raise RouteConfigError(f"{where}: {place}: {error.message}")
    key = document["key"]
    expected = function_names(key["app_id"], key["microservice"], key["route"])
    if (document["functions"]["request"], document["functions"]["response"]) != expected:
        raise RouteConfigError(f"{where}: functions: must be {expected[0]!r} and {expected[1]!r}")
    status = status_function_name(key["app_id"], key["microservice"], key["route"])
    if document["functions"].get("status", status) != status:
        raise RouteConfigError(f"{where}: functions.status: must be {status!r}")
    policy = document.get("on_unknown", {}).get("policy")
    if policy == "status_query" and not document.get("status_query") and not document["functions"].get("status"):
        raise RouteConfigError(f"{where}: on_unknown.policy: status_query needs the route's status_query.url "
                               "or a STATUS function")
    if policy == "reverse" and document["on_unknown"]["reversal_route"] == key["route"]:
        raise RouteConfigError(f"{where}: on_unknown.reversal_route: must be another route of "
                               f"{key['microservice']}.{key['service']}")
    for number, rule in enumerate((document.get("routing") or {}).get("rules", ()), start=1):
        for bound, value in ((rule.get("when") or {}).get("amount") or {}).items():
            if not _finite_number(value):
                raise RouteConfigError(f"{where}: routing.rules.{number - 1}.when.amount.{bound}: "
                                       f"must be a number, not {value!r}")
    problems = check_field_definitions(document.get("fields", []))
    if problems:
        place, message = next(iter(problems.items()))
        raise RouteConfigError(f"{where}: {place}: {message}")


def _finite_number(value):
    try:
        return not isinstance(value, bool) and Decimal(str(value)).is_finite()
    except (InvalidOperation, ValueError):
        return False


def read_all(routes_dir):
    """``{path: document}`` of every route file, each validated."""
    documents = {}
    for path in sorted(Path(routes_dir).glob("*/*.yaml")):
        try:
            document = _load(path.read_text())
        except yaml.YAMLError as exc:
            raise RouteConfigError(f"{path}: not valid YAML: {exc}") from None
        validate_document(document, str(path))
        documents[path] = document
    return documents


def _database_documents(conn):
    documents = {}
    for row in conn.execute(Q.route_settings):
        names = (row["request_function"], row["response_function"])
        document = route_document(row["app_id"], row, names, row["enabled"], row["settings"])
        key = document["key"]
        documents[(key["app_id"], key["microservice"], key["service"], key["route"])] = (row, document)
    return documents


def export(db, routes_dir):
    """Write every route in the database to its file; returns the paths."""
    with db.connection() as conn:
        return [write(routes_dir, document) for _, document in _database_documents(conn).values()]


def diff(db, routes_dir):
    """Unified diff from the database (a/) to the files (b/); empty when in step."""
    with db.connection() as conn:
        in_db = {route_path(routes_dir, d["key"]): dump(d) for _, d in _database_documents(conn).values()}
    on_disk = {path: _normalised_text(path) for path in Path(routes_dir).glob("*/*.yaml")}
    lines = []
    for path in sorted(set(in_db) | set(on_disk)):
        before, after = in_db.get(path, ""), on_disk.get(path, "")
        if before != after:
            lines.extend(difflib.unified_diff(before.splitlines(True), after.splitlines(True),
                                              f"a/{path.name} (database)", f"b/{path} (file)"))
    return "".join(lines)


def _normalised_text(path):
    try:
        return dump(_load(path.read_text()))
    except (yaml.YAMLError, KeyError, TypeError):
        return path.read_text()  # not a route document: show it as it is


def _overrides(service_row, document):
    overrides = {}
    upstream = {k: v for k, v in document["upstream"].items() if service_row.get(k) != v}
    if upstream:
        overrides["upstream"] = upstream
    if document.get("retry") and document["retry"] != {"max_attempts": 1, "on": [], "allow_post": False}:
        overrides["retry"] = document["retry"]
    if "fields" in document and document["fields"] != service_row["fields"]:
        overrides["fields"] = document["fields"]
    for optional in ("status_query", "on_pending", "on_unknown", "routing"):
        if document.get(optional):
            overrides[optional] = document[optional]
    return overrides


def apply(db, routes_dir, actor="cli"):
    """Apply every route file to the database; returns the keys changed."""
    documents = read_all(routes_dir)
    changed = []
    with db.transaction() as conn:
        in_db = _database_documents(conn)
        for path, document in documents.items():
            if _apply_one(conn, in_db, str(path), document, actor):
                changed.append(_key_tuple(document))
        if changed:
            conn.execute(Q.notify_registry_changed, ("routes",))
    return changed


def save(db, routes_dir, key, text, actor):
    """One route's YAML as edited in the portal: checked as a file is, applied, and written to its file.

    ``key`` is the route being edited (``app_id``, ``microservice``, ``service``, ``route``); the document
    may not move to another. Returns True when something changed.
    """
    where = "route " + ".".join(key[k] for k in ("app_id", "microservice", "service", "route"))
    try:
        document = _load(text)
    except yaml.YAMLError as exc:
        raise RouteConfigError(f"{where}: not valid YAML: {exc}") from None
    if not isinstance(document, dict):
        raise RouteConfigError(f"{where}: (document): must be a mapping")
    validate_document(document, where)
    if document["key"] != key:
        raise RouteConfigError(f"{where}: key: must stay {key} (edit another route on its own page)")
    with db.transaction() as conn:
        changed = _apply_one(conn, _database_documents(conn), where, document, actor)
        if changed:
            conn.execute(Q.notify_registry_changed, ("routes",))
    write(routes_dir, document)
    return changed


def _key_tuple(document):
    key = document["key"]
    return key["app_id"], key["microservice"], key["service"], key["route"]


def _apply_one(conn, in_db, where, document, actor):
    """Apply one checked document; True when the database changed."""
    key, key_tuple = document["key"], _key_tuple(document)
    if key_tuple not in in_db:
        raise RouteConfigError(f"{where}: key: no such assignment in the database; assign the service first")
    row, current = in_db[key_tuple]
    for rule in (document.get("routing") or {}).get("rules", ()):
        for target in rule["targets"]:
            if (key["app_id"], target["microservice"], target["service"], target["route"]) not in in_db:
                raise RouteConfigError(f"{where}: routing: {target['microservice']}.{target['service']}."
                                       f"{target['route']} is not a route of {key['app_id']}; assign it first")
    if canonical(current) == canonical(document):
        return False
    conn.execute(Q.update_route_settings, {"id": row["id"], "enabled": document["enabled"],
                                           "settings": Jsonb(_overrides(row, document))})
    conn.execute(Q.insert_audit, {"actor": actor, "action": "route.apply", "target": where,
                                  "before": Jsonb(current), "after": Jsonb(document)})
    return True
