"""Creating a client's functions and recording each change as a version."""

import hashlib
from contextlib import contextmanager

from gateway.db import FUNCTION_SCHEMA, Q
from gateway.functions.templates import TEMPLATE_DIR, has_part, render

PLUGIN_DIR = TEMPLATE_DIR / "plugins"


def available_plugins():
    """Names of the request-function plugins, ``sql/functions/plugins/<name>.sql.j2`` (``_`` files are helpers)."""
    return sorted(path.name.removesuffix(".sql.j2") for path in PLUGIN_DIR.glob("*.sql.j2")
                  if not path.name.startswith("_"))


def definition_hash(definition):
    """Hash of PostgreSQL's own rendering of a function (``pg_get_functiondef``)."""
    return hashlib.sha256(definition.encode()).hexdigest()


def current_definition(conn, name):
    """``pg_get_functiondef`` of the function named ``name``, or ``None``."""
    row = conn.execute(Q.function_definition, {"schema": FUNCTION_SCHEMA, "name": name}).fetchone()
    return row["definition"] if row else None


def record(conn, client_service_id, name, kind, source, created_by, note):
    """Record the function as PostgreSQL now has it as the next version; returns the version."""
    definition = current_definition(conn, name)
    if definition is None:
        raise ValueError(f"{FUNCTION_SCHEMA}.{name} does not exist")
    row = conn.execute(Q.insert_function_version, {
        "client_service_id": client_service_id, "function_name": name, "kind": kind,
        "source": source, "source_hash": definition_hash(definition),
        "created_by": created_by, "note": note,
    }).fetchone()
    # EXECUTE for its client's role only, after every CREATE (migration 0010: PUBLIC may not execute it).
    conn.execute(Q.grant_client_function, {"name": name, "client_service_id": client_service_id})
    return row["version"]


@contextmanager
def as_function_owner(conn):
    """A savepoint in which client-function DDL runs as ``mospay_fn_owner`` (CREATE in mospay_fn, nothing else)."""
    with conn.transaction():
        conn.execute(Q.become_function_owner)
        yield
        conn.execute(Q.reset_role)


def install(conn, client_service_id, name, kind, source, created_by, note):
    """Run ``source`` (a CREATE FUNCTION) as the function owner and record it as the next version."""
    with as_function_owner(conn):
        conn.execute(source)
    return record(conn, client_service_id, name, kind, source, created_by, note)


def service_plugins(conn, client_service_id):
    """The plugins the route's service lists in its settings, in order."""
    row = conn.execute(Q.service_settings_of_route, {"client_service_id": client_service_id}).fetchone()
    return list((row["settings"] if row else {}).get("plugins", []))


def generate(conn, client_service_id, template, names, render_context, created_by, callback_function=None,
             status_function=None):
    """Render the template's parts (with the service's plugins) and install them as version 1 (or next).

    The callback and status parts are optional: each is generated under the given name when the template
    has it; returns ``{"callback": name or None, "status": name or None}``.
    """
    request_function, response_function = names
    parts = [("request", request_function), ("response", response_function)]
    optional = {"callback": callback_function, "status": status_function}
    parts += [(kind, name) for kind, name in optional.items() if name and has_part(template, kind)]
    context = {"schema": FUNCTION_SCHEMA, "request_function": request_function,
               "response_function": response_function, "callback_function": callback_function,
               "status_function": status_function, "plugins": service_plugins(conn, client_service_id),
               **render_context}
    for kind, name in parts:
        install(conn, client_service_id, name, kind, render(template, kind, **context),
                created_by, f"generated from template {template}")
    installed = dict(parts)
    return {"callback": installed.get("callback"), "status": installed.get("status")}
