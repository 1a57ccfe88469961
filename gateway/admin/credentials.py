"""The provider credential vault: per service, overridable per client assignment, write-only.

Values are sealed at rest (``rt.sealer``: MultiFernet over ``MOSPAY_SEAL_KEYS``) and
never leave the switch again: admins read names and times, the audit log names,
functions get the values at call time in ``context.credentials``. A value of
``null`` removes a name. Each template declares the names it needs
(``sql/functions/<template>/provider.yaml``); answers say which are still missing.
"""

from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.errors import NotFound, ProviderNotConfigured
from gateway.functions import manifest
from gateway.hot_path.fields import FieldValidator, validate_message

MAX_VALUE_CHARS = 4096
VALUES_SCHEMA = {
    "type": "object", "minProperties": 1, "maxProperties": 32,
    "propertyNames": {"pattern": r"^[a-z][a-z0-9_]{0,63}\Z"},
    "additionalProperties": {"anyOf": [
        {"type": "string", "minLength": 1, "maxLength": MAX_VALUE_CHARS, "pattern": r"^[^\x00]*\Z"},
        {"type": "null"}]},
}
CREDENTIALS_PUT = FieldValidator({
    "type": "object", "properties": {"values": VALUES_SCHEMA}, "required": ["values"], "additionalProperties": False,
})


def _key(key):
    return {k: key[k] for k in ("microservice", "service", "route")}


def _target(key, app_id=None):
    route = f"{key['microservice']}.{key['service']}.{key['route']}"
    return f"{app_id}:{route}" if app_id else route


def store(conn, sealer, values, actor, service_id, client_service_id=None):
    """Upsert each named value, sealed (``None`` removes the name); the caller owns the transaction."""
    for name, value in sorted(values.items()):
        params = {"service_id": service_id, "client_service_id": client_service_id, "name": name, "actor": actor}
        if value is None:
            conn.execute(Q.delete_route_credential if client_service_id else Q.delete_service_credential, params)
        else:
            conn.execute(Q.upsert_route_credential if client_service_id else Q.upsert_service_credential,
                         {**params, "value_sealed": sealer.seal(value)})


def _summary(rows, template, inherited=()):
    names = [row["name"] for row in rows]
    updated = max((row["updated_at"] for row in rows), default=None)
    required = list(manifest.required_credentials(template))
    return {"names": names, "updated_at": updated.isoformat() if updated else None, "required": required,
            "missing": [name for name in required if name not in {*names, *inherited}]}


def _audit(conn, actor, action, target, names):
    # Names only: a value never reaches the audit log.
    conn.execute(Q.insert_audit, {"actor": actor, "action": action, "target": target, "before": None,
                                  "after": Jsonb({"names": sorted(names)})})


def _changed(conn):
    conn.execute(Q.notify_registry_changed, ("credentials",))


def service_credentials(rt, key):
    """The names (never the values) a service holds, with what its template still misses."""
    with rt.db.connection() as conn:
        service = conn.execute(Q.find_service, _key(key)).fetchone()
        if service is None:
            raise NotFound("No such service.", details=_key(key))
        rows = conn.execute(Q.service_credential_names, {"service_id": service["id"]}).fetchall()
    return _summary(rows, service["template"])


def set_service_credentials(rt, key, payload, actor):
    """Store a service's credentials (``{"values": {name: value | null}}``); answers names, never values."""
    validate_message(CREDENTIALS_PUT, payload)
    with rt.db.transaction() as conn:
        service = conn.execute(Q.find_service, _key(key)).fetchone()
        if service is None:
            raise NotFound("No such service.", details=_key(key))
        store(conn, rt.sealer, payload["values"], actor, service["id"])
        _audit(conn, actor, "service.credentials", _target(key), payload["values"])
        rows = conn.execute(Q.service_credential_names, {"service_id": service["id"]}).fetchall()
        _changed(conn)
    rt.registry.reload()
    return _summary(rows, service["template"])


def route_credentials(rt, app_id, key):
    """The names a client's route overrides, those it inherits from its service, and what is still missing."""
    with rt.db.connection() as conn:
        route = conn.execute(Q.find_route, {"app_id": app_id, **_key(key)}).fetchone()
        if route is None:
            raise NotFound("The client has no such route.", details={"app_id": app_id, **_key(key)})
        own = conn.execute(Q.route_credential_names, {"client_service_id": route["id"]}).fetchall()
        inherited = [r["name"] for r in conn.execute(Q.service_credential_names,
                                                     {"service_id": route["service_id"]}).fetchall()]
    return {**_summary(own, route["template"], inherited), "inherited": inherited}


def set_route_credentials(rt, app_id, key, payload, actor):
    """Override credentials for one client's route (``{"values": …}``); answers names, never values."""
    validate_message(CREDENTIALS_PUT, payload)
    with rt.db.transaction() as conn:
        route = conn.execute(Q.find_route, {"app_id": app_id, **_key(key)}).fetchone()
        if route is None:
            raise NotFound("The client has no such route.", details={"app_id": app_id, **_key(key)})
        store(conn, rt.sealer, payload["values"], actor, route["service_id"], route["id"])
        _audit(conn, actor, "route.credentials", _target(key, app_id), payload["values"])
        own = conn.execute(Q.route_credential_names, {"client_service_id": route["id"]}).fetchall()
        inherited = [r["name"] for r in conn.execute(Q.service_credential_names,
                                                     {"service_id": route["service_id"]}).fetchall()]
        _changed(conn)
    rt.registry.reload()
    return {**_summary(own, route["template"], inherited), "inherited": inherited}


def check_complete(conn, service, route_values=None):
    """Refuse (``PROVIDER_NOT_CONFIGURED``, naming them) an assignment whose template's credentials are missing."""
    have = {r["name"] for r in conn.execute(Q.service_credential_names, {"service_id": service["id"]}).fetchall()}
    have |= {name for name, value in (route_values or {}).items() if value is not None}
    missing = [name for name in manifest.required_credentials(service["template"]) if name not in have]
    if missing:
        raise ProviderNotConfigured(missing)


def reseal_all(rt):
    """Seal every stored credential again under the newest key; returns how many (unreadable ones are kept)."""
    count = 0
    with rt.db.transaction() as conn:
        for row in conn.execute(Q.all_sealed_credentials).fetchall():
            sealed = rt.sealer.reseal(row["value_sealed"])
            if sealed is not None:
                conn.execute(Q.reseal_credential, {"id": row["id"], "value_sealed": sealed})
                count += 1
        conn.execute(Q.drop_all_provider_tokens)  # cheap to fetch again, and sealed under the old key
    return count
