"""Onboarding: clients, services and assigning a service to a client.

The one service layer behind the admin API, the CLI and the portal. Each
use case owns its transaction, records an audit row, announces the change
to every instance and reloads this instance's route table.
"""

import re
import secrets

from psycopg import sql
from psycopg.types.json import Jsonb

from gateway.admin import credentials as vault
from gateway.admin import routes_config
from gateway.admin import schemas as admin_schemas
from gateway.db import FUNCTION_SCHEMA, Q
from gateway.errors import AlreadyExists, BadRequest, Conflict, NotFound, ValidationFailed
from gateway.functions import catalogue, manifest, tenants
from gateway.functions.templates import available_templates
from gateway.hot_path import registry
from gateway.hot_path.fields import check_field_definitions, validate_message
from gateway.naming import (
    MAX_PART_LENGTH,
    callback_function_name,
    function_name_problem,
    function_names,
    status_function_name,
)
from gateway.security.addresses import internal_address
from gateway.security.passwords import generate_secret, hash_password
from gateway.security.sealed import new_signing_secret

DEFAULT_TEMPLATE = "generic_json"


def _audit(conn, actor, action, target, before=None, after=None):
    conn.execute(Q.insert_audit, {"actor": actor, "action": action, "target": target,
                                  "before": Jsonb(before) if before is not None else None,
                                  "after": Jsonb(after) if after is not None else None})


def _announce(conn, what):
    conn.execute(Q.notify_registry_changed, (what,))


def app_id_from_name(name):
    """A valid app_id derived from a display name (``"Akaliza Ltd"`` → ``akaliza_ltd``)."""
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    if not slug or not slug[0].isalpha():
        slug = "app_" + slug
    return slug[:MAX_PART_LENGTH].rstrip("_")


def _public_client(row):
    return {"app_id": row["app_id"], "name": row["name"], "username": row["username"],
            "callback_url": row["callback_url"], "active": row["active"],
            "created_at": row["created_at"].isoformat()}


def _client_conflict(existing, values):
    """The AlreadyExists naming what a new client collided with: a name (any case), an app_id or a username."""
    if existing is not None and existing["name"].lower() == values["name"].lower():
        return AlreadyExists(f"A client named {existing['name']!r} already exists (app_id {existing['app_id']!r}).",
                             details={"name": values["name"]})
    if existing is None or existing["app_id"] == values["app_id"]:
        return AlreadyExists(f"A client with app_id {values['app_id']!r} already exists.",
                             details={"app_id": values["app_id"]})
    return AlreadyExists(f"The username {values['username']!r} is taken; choose another app_id.",
                         details={"app_id": values["app_id"]})


def create_client(rt, payload, actor, password=None):
    """Create a client; returns it with its password and callback signing secret, shown only this once."""
    validate_message(admin_schemas.CLIENT_CREATE, payload)
    _check_callback_host(rt, payload.get("callback_url"))
    app_id = payload.get("app_id") or app_id_from_name(payload["name"])
    password = password or generate_secret()
    callback_secret = new_signing_secret()
    values = {"app_id": app_id, "name": payload["name"].strip(), "username": app_id}
    with rt.db.transaction() as conn:
        row = conn.execute(Q.insert_client, {
            **values, "password_hash": hash_password(password, rt.config.BCRYPT_ROUNDS),
            "callback_url": payload.get("callback_url"), "callback_secret_sealed": rt.sealer.seal(callback_secret),
        }).fetchone()
        if row is None:
            raise _client_conflict(conn.execute(Q.conflicting_client, values).fetchone(), values)
        tenants.provision(conn, row["id"])  # its own execution role (issue 11 point 2)
        client = _public_client(row)
        _audit(conn, actor, "client.create", app_id, after=client)
        _announce(conn, "client")
    rt.registry.reload()
    return {**client, "password": password, "callback_secret": callback_secret}


def list_clients(rt):
    """Every client, without secrets."""
    return [_public_client(row) for row in rt.db.fetch_all(Q.list_clients)]


def get_client(rt, app_id):
    """One client with the services assigned to it."""
    row = rt.db.fetch_one(Q.get_client, {"app_id": app_id})
    if row is None:
        raise NotFound(f"No client with app_id {app_id!r}.")
    services = rt.db.fetch_all(Q.client_services_of, {"client_id": row["id"]})
    return {**_public_client(row), "credential_version": row["credential_version"],
            "services": [_client_route(s) for s in services]}


def _client_route(row):
    route = {k: row[k] for k in ("microservice", "service", "route", "request_function", "response_function",
                                 "enabled")}
    if row["callback_function"]:
        route["callback_function"] = row["callback_function"]
        route["callback_unauthenticated"] = _callbacks_unauthenticated(row["callback_settings"])
    return route


def rotate_credentials(rt, app_id, actor):
    """New username and password for a client; the old ones stop working at once."""
    username = f"{app_id}_{secrets.token_hex(4)}"
    password = generate_secret()
    with rt.db.transaction() as conn:
        row = conn.execute(Q.rotate_client_credentials, {
            "app_id": app_id, "username": username,
            "password_hash": hash_password(password, rt.config.BCRYPT_ROUNDS),
        }).fetchone()
        if row is None:
            raise NotFound(f"No client with app_id {app_id!r}.")
        _audit(conn, actor, "client.rotate_credentials", app_id,
               after={"username": username, "credential_version": row["credential_version"]})
        _announce(conn, "credentials")
    rt.registry.reload()
    return {"app_id": app_id, "username": username, "password": password}


def rotate_callback_secret(rt, app_id, actor):
    """A new secret signing the client's callbacks, shown only this once; the old one stops at once."""
    secret = new_signing_secret()
    with rt.db.transaction() as conn:
        row = conn.execute(Q.set_client_callback_secret, {"app_id": app_id,
                                                          "sealed": rt.sealer.seal(secret)}).fetchone()
        if row is None:
            raise NotFound(f"No client with app_id {app_id!r}.")
        _audit(conn, actor, "client.rotate_callback_secret", app_id)
    return {"app_id": app_id, "callback_secret": secret}


def _check_callback_host(rt, url):
    """Refuse a callback URL into the switch's own host or network unless the operator allows it (SSRF)."""
    if url is None or rt.config.ALLOW_PRIVATE_CALLBACKS:
        return
    address = internal_address(url)
    if address is not None:
        raise ValidationFailed(details={"callback_url": (
            f"must not point to a loopback, link-local or private address ({address}); an operator may allow "
            "it with MOSPAY_ALLOW_PRIVATE_CALLBACKS=1")})


def set_callback_url(rt, app_id, payload, actor):
    """Set (or clear, with ``null``) the URL that receives the client's signed callbacks."""
    validate_message(admin_schemas.CLIENT_CALLBACK, payload)
    _check_callback_host(rt, payload["callback_url"])
    with rt.db.transaction() as conn:
        before = conn.execute(Q.get_client, {"app_id": app_id}).fetchone()
        if before is None:
            raise NotFound(f"No client with app_id {app_id!r}.")
        conn.execute(Q.set_client_callback_url, {"app_id": app_id, "callback_url": payload["callback_url"]})
        _audit(conn, actor, "client.callback_url", app_id, before={"callback_url": before["callback_url"]},
               after={"callback_url": payload["callback_url"]})
    return {"app_id": app_id, "callback_url": payload["callback_url"]}


def set_client_active(rt, app_id, active, actor):
    """Activate or deactivate a client."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.set_client_active, {"app_id": app_id, "active": active}).fetchone()
        if row is None:
            raise NotFound(f"No client with app_id {app_id!r}.")
        _audit(conn, actor, "client.activate" if active else "client.deactivate", app_id)
        _announce(conn, "client")
    rt.registry.reload()
    return {"app_id": app_id, "active": active}


def _public_service(row):
    return {"microservice": row["microservice"], "service": row["service"], "route": row["route"],
            "url": row["url"], "method": row["method"], "timeout_ms": row["timeout_ms"],
            "template": row["template"], "fields": row["fields"]}


def _checked_service(payload):
    """``(fields, template)`` of a valid service payload, or ``ValidationFailed`` naming every problem."""
    validate_message(admin_schemas.SERVICE_CREATE, payload)
    fields = payload.get("fields", [])
    problems = check_field_definitions(fields)
    template = payload.get("template", DEFAULT_TEMPLATE)
    if template not in available_templates():
        problems["template"] = f"must be one of {', '.join(available_templates())}"
    unknown = [name for name in payload.get("plugins", []) if name not in catalogue.available_plugins()]
    if unknown:
        problems["plugins"] = f"unknown {', '.join(unknown)}: must be among {', '.join(catalogue.available_plugins())}"
    if problems:
        raise ValidationFailed(details=problems)
    return fields, template


def check_new_service(rt, payload):
    """Raise what ``create_service`` would refuse ``payload`` for, writing nothing (a flow checks first)."""
    _checked_service(payload)
    if rt.db.fetch_one(Q.find_service, payload) is not None:
        raise AlreadyExists("This microservice, service and route already exist: pick the existing service.",
                            details={"microservice": payload["microservice"]})


def create_service(rt, payload, actor):
    """Register a downstream service route with its field definitions."""
    fields, template = _checked_service(payload)
    settings = {key: payload[key] for key in ("plugins", "risk", "fx", "fee", "currency", "token") if key in payload}
    if "currency" not in settings and manifest.default_currency(template):
        settings["currency"] = manifest.default_currency(template)  # shown, and kept if the template changes
    if "callback" in payload:
        settings["callback"] = _sealed_callback_settings(rt, payload["callback"])
    with rt.db.transaction() as conn:
        row = conn.execute(Q.insert_service, {
            "microservice": payload["microservice"], "service": payload["service"], "route": payload["route"],
            "url": payload["url"], "method": payload.get("method", "POST"),
            "timeout_ms": payload.get("timeout_ms", rt.config.DEFAULT_TIMEOUT_MS),
            "template": template, "fields": Jsonb(fields), "settings": Jsonb(settings),
        }).fetchone()
        if row is None:
            raise AlreadyExists("This microservice, service and route already exist.")
        service = _public_service(row)
        _audit(conn, actor, "service.create", _service_key(service), after={**service, "settings": row["settings"]})
        if _callbacks_unauthenticated(settings.get("callback")):
            _audit(conn, actor, "service.callback_unauthenticated", _service_key(service),
                   after={"callback": settings["callback"]})
    return service


def _callbacks_unauthenticated(callback):
    """True when a service's provider callbacks need neither the URL token nor a signature (an opt-in)."""
    callback = callback or {}
    return callback.get("auth", "token") == "none" and not callback.get("hmac_header")


def _sealed_callback_settings(rt, callback):
    settings = {key: value for key, value in callback.items() if key != "secret"}
    if "secret" in callback:
        settings["secret_sealed"] = rt.sealer.seal(callback["secret"])
    return settings


def list_services(rt):
    """Every service."""
    return [_public_service(row) for row in rt.db.fetch_all(Q.list_services)]


def _service_key(service):
    return f"{service['microservice']}.{service['service']}.{service['route']}"


def assign_service(rt, app_id, payload, actor):
    """Give a client a service: generate its two functions and its route file."""
    validate_message(admin_schemas.ASSIGNMENT, payload)
    client = rt.db.fetch_one(Q.get_client, {"app_id": app_id})
    if client is None:
        raise NotFound(f"No client with app_id {app_id!r}.")
    service = rt.db.fetch_one(Q.find_service, payload)
    if service is None:
        raise NotFound("No such service: create it first.", details=payload)
    problem = function_name_problem(app_id, service["microservice"], service["route"])
    if problem:
        raise BadRequest(problem, details={"app_id": problem})
    names = function_names(app_id, service["microservice"], service["route"])
    callback_name = callback_function_name(app_id, service["microservice"], service["route"])
    status_name = status_function_name(app_id, service["microservice"], service["route"])
    with rt.db.transaction() as conn:
        vault.check_complete(conn, service, payload.get("credentials"))  # nothing is created when some are missing
        row = conn.execute(Q.insert_client_service, {
            "client_id": client["id"], "service_id": service["id"],
            "request_function": names[0], "response_function": names[1],
        }).fetchone()
        if row is None:
            raise AlreadyExists("The client already has this service, or another service "
                                "with the same microservice and route.", details={"request_function": names[0]})
        if payload.get("credentials"):
            vault.store(conn, rt.sealer, payload["credentials"], actor, service["id"], row["id"])
        generated = catalogue.generate(conn, row["id"], service["template"], names, {
            "client": {"app_id": app_id, "name": client["name"]}, "service": _public_service(service),
        }, actor, callback_function=callback_name, status_function=status_name)
        callback_name = generated["callback"]
        token = registry.new_callback_token() if callback_name else None
        if callback_name:
            conn.execute(Q.set_callback_function, {"id": row["id"], "callback_function": callback_name,
                                                   "callback_token_sealed": rt.sealer.seal(token)})
        overrides = {}
        if generated["status"]:
            # The route's PENDING payments are followed up by its STATUS function on the template's schedule.
            on_pending = manifest.default_on_pending(service["template"])
            overrides = {"on_pending": on_pending} if on_pending else {}
            conn.execute(Q.set_status_function, {"id": row["id"], "status_function": generated["status"],
                                                 "settings": Jsonb(overrides)})
        document = routes_config.route_document(app_id, service, names, enabled=True, overrides=overrides,
                                                status_function=generated["status"])
        _audit(conn, actor, "route.assign", f"{app_id}:{_service_key(service)}", after=document)
        _announce(conn, "route")
    route_file = routes_config.write(rt.config.ROUTES_DIR, document)
    rt.registry.reload()
    assigned = {"request_function": names[0], "response_function": names[1], "route_file": str(route_file)}
    if generated["status"]:
        assigned["status_function"] = generated["status"]
    if not callback_name:
        return assigned
    needs_token = (service["settings"].get("callback") or {}).get("auth", "token") != "none"
    return {**assigned, "callback_function": callback_name, "callback_url": registry.callback_url(
        rt.config.PUBLIC_URL or "", app_id, service["microservice"], service["route"], token if needs_token else None)}


def set_route_enabled(rt, app_id, key, enabled, actor):
    """Enable or disable one client's route, in the database and its route file."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.find_route, {"app_id": app_id, **key}).fetchone()
        if row is None:
            raise NotFound("The client has no such route.", details={"app_id": app_id, **key})
        conn.execute(Q.set_route_enabled, {"id": row["id"], "enabled": enabled})
        names = (row["request_function"], row["response_function"])
        document = routes_config.route_document(app_id, row, names, enabled, row["settings"])
        _audit(conn, actor, "route.enable" if enabled else "route.disable",
               f"{app_id}:{_service_key(row)}", before={"enabled": row["enabled"]}, after={"enabled": enabled})
        _announce(conn, "route")
    routes_config.write(rt.config.ROUTES_DIR, document)
    rt.registry.reload()
    return {"app_id": app_id, **key, "enabled": enabled}


def update_service(rt, key, payload, actor):
    """Change a service's URL, method, timeout, template and fields; its routes' files follow."""
    key = {k: key[k] for k in ("microservice", "service", "route")}
    fields, template = _checked_service({**payload, **key})
    with rt.db.transaction() as conn:
        before = conn.execute(Q.find_service, key).fetchone()
        if before is None:
            raise NotFound("No such service.", details=key)
        row = conn.execute(Q.update_service, {
            **key, "url": payload["url"], "method": payload.get("method", "POST"),
            "timeout_ms": payload.get("timeout_ms", rt.config.DEFAULT_TIMEOUT_MS),
            "template": template, "fields": Jsonb(fields)}).fetchone()
        service = _public_service(row)
        _audit(conn, actor, "service.update", _service_key(service), before=_public_service(before), after=service)
        documents = [routes_config.route_document(r["app_id"], r, (r["request_function"], r["response_function"]),
                                                  r["enabled"], r["settings"])
                     for r in conn.execute(Q.routes_of_service, {"service_id": row["id"]})]
        _announce(conn, "service")
    for document in documents:
        routes_config.write(rt.config.ROUTES_DIR, document)
    rt.registry.reload()
    return service


def unassign_service(rt, app_id, key, actor):
    """Take a service away from a client: drop its functions, versions and route file.

    Refused once the route has transactions (they keep referring to it): disable it instead.
    """
    with rt.db.transaction() as conn:
        row = conn.execute(Q.find_route, {"app_id": app_id, **key}).fetchone()
        if row is None:
            raise NotFound("The client has no such route.", details={"app_id": app_id, **key})
        if conn.execute(Q.route_transaction_count, {"id": row["id"]}).fetchone()["n"]:
            raise Conflict("The route has transactions and cannot be removed; disable it instead.")
        conn.execute(Q.delete_route_function_versions, {"id": row["id"]})
        conn.execute(Q.delete_client_service, {"id": row["id"]})
        with catalogue.as_function_owner(conn):  # only their owner may drop them
            for query, name in ((Q.drop_request_function, row["request_function"]),
                                (Q.drop_response_function, row["response_function"]),
                                (Q.drop_callback_function, row["callback_function"]),
                                (Q.drop_status_function, row["status_function"])):
                if name is not None:
                    conn.execute(sql.SQL(query).format(schema=sql.Identifier(FUNCTION_SCHEMA),
                                                       function=sql.Identifier(name)))
        _audit(conn, actor, "route.unassign", f"{app_id}:{_service_key(row)}",
               before={"request_function": row["request_function"], "response_function": row["response_function"]})
        _announce(conn, "route")
    routes_config.route_path(rt.config.ROUTES_DIR, {"app_id": app_id, **key}).unlink(missing_ok=True)
    rt.registry.reload()
    return {"app_id": app_id, **key, "unassigned": True}
