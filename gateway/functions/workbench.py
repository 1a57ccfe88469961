"""The DBA workbench: read, edit, version, drift-check, test-run and roll back functions.

An edit is executed as one single SQL command (the extended protocol
refuses more than one), inside a transaction that is kept only when
PostgreSQL accepted it and the function still has the signature the
switch calls; otherwise it is rolled back and the live function is
untouched.
"""

import difflib
import re
import uuid

from psycopg import errors as pg_errors
from psycopg.pq import ExecStatus
from psycopg.types.json import Jsonb

from gateway.db import FUNCTION_SCHEMA, Q
from gateway.errors import BadRequest, Conflict, NotFound, ValidationFailed
from gateway.functions import catalogue, ddl, runner
from gateway.functions.templates import render
from gateway.hot_path import call_spec

MAX_SOURCE_BYTES = 200_000
SIGNATURES = {
    "request": "request jsonb, context jsonb",
    "response": "request jsonb, response jsonb, context jsonb",
    "callback": "payload jsonb, headers jsonb, context jsonb",
    "status": "request jsonb, context jsonb",
}
ALLOWED_LANGUAGES = ("plpgsql", "sql")
# After leading comments, the one command must be a CREATE [OR REPLACE] FUNCTION.
_CREATE_FUNCTION = re.compile(r"^(\s*(--[^\n]*(\n|$)|/\*.*?\*/))*\s*CREATE\s+(OR\s+REPLACE\s+)?FUNCTION\s",
                              re.IGNORECASE | re.DOTALL)


class FunctionRefused(BadRequest):
    code, message = "FUNCTION_REFUSED", "PostgreSQL refused the function."


class Customised(Conflict):
    code, message = "FUNCTION_CUSTOMISED", "The function was customised; regenerating would overwrite it."


def _latest(conn, name):
    row = conn.execute(Q.latest_function_version, {"name": name}).fetchone()
    if row is None:
        raise NotFound(f"No generated function named {name!r}.")
    return row


def _drift(row, definition):
    if definition is None:
        return "missing"
    return "drifted" if catalogue.definition_hash(definition) != row["source_hash"] else "in_step"


def list_functions(rt):
    """Every generated function with its client, route, version and drift state."""
    with rt.db.connection() as conn:
        live = {r["name"]: r["definition"] for r in conn.execute(Q.schema_function_definitions,
                                                                    {"schema": FUNCTION_SCHEMA})}
        rows = conn.execute(Q.list_functions).fetchall()
    return [{"name": r["name"], "kind": r["kind"], "version": r["version"], "app_id": r["app_id"],
             "microservice": r["microservice"], "service": r["service"], "route": r["route"],
             "updated_by": r["created_by"], "updated_at": r["created_at"],
             "drift": _drift(r, live.get(r["name"]))} for r in rows]


def get_function(rt, name):
    """Source (as PostgreSQL has it now), version, drift state and signature of a function."""
    with rt.db.connection() as conn:
        row = _latest(conn, name)
        definition = catalogue.current_definition(conn, name)
        signature = conn.execute(Q.function_signature, {"schema": FUNCTION_SCHEMA, "name": name}).fetchone()
    return {"name": name, "kind": row["kind"], "version": row["version"], "app_id": row["app_id"],
            "microservice": row["microservice"], "service": row["service"], "route": row["route"],
            "template": row["template"], "source": definition if definition is not None else row["source"],
            "recorded_source": row["source"], "drift": _drift(row, definition),
            "security_definer": bool(signature and signature["security_definer"]),
            "fields": row["fields"]}


def editable_source(function):
    """The source an edit of ``function`` (``get_function``'s answer) starts from.

    PostgreSQL keeps no comment outside the body and reformats the header (``pg_get_functiondef``);
    an edit of that would turn the template's comments and layout into a noisy v1 → v2 diff. While
    PostgreSQL's copy is in step, the latest version's own text is the same function, comments and
    all, so an edit of one line is a one-line diff. Edited outside the switch, or dropped, the edit
    starts from what PostgreSQL has (or the last version).
    """
    return function["recorded_source"] if function["drift"] == "in_step" else function["source"]


def versions(rt, name):
    """Every recorded version, newest first."""
    with rt.db.connection() as conn:
        _latest(conn, name)
        return conn.execute(Q.function_versions, {"name": name}).fetchall()


def version_source(rt, name, version):
    """The source of one version."""
    row = rt.db.fetch_one(Q.function_version, {"name": name, "version": version})
    if row is None:
        raise NotFound(f"{name} has no version {version}.")
    return row


def diff_versions(rt, name, old, new):
    """Unified diff between two versions' sources."""
    before, after = version_source(rt, name, old), version_source(rt, name, new)
    return "".join(difflib.unified_diff(before["source"].splitlines(True), after["source"].splitlines(True),
                                        f"{name} v{old}", f"{name} v{new}"))


def save(rt, name, source, actor, note=None):
    """Check ``source`` with PostgreSQL and, if it holds, apply it as the next version."""
    if not isinstance(source, str) or not source.strip():
        raise ValidationFailed(details={"source": "must be the CREATE OR REPLACE FUNCTION statement"})
    if len(source.encode()) > MAX_SOURCE_BYTES or "\x00" in source:
        raise ValidationFailed(details={"source": f"must be at most {MAX_SOURCE_BYTES} bytes of text"})
    if not _CREATE_FUNCTION.match(source):
        raise ValidationFailed(details={"source": "must be one CREATE OR REPLACE FUNCTION statement"})
    with rt.db.transaction() as conn:
        conn.execute(Q.lock_function, {"name": name})
        row = _latest(conn, name)
        try:
            ddl.check_function_source(source, name)  # parsed before anything runs: nothing else can ride along
        except ValueError as problem:
            raise FunctionRefused(f"The source was refused: {problem}. Nothing was changed.") from None
        before = _definitions(conn)
        _execute_single_command(conn, source)
        _check_result(conn, name, row["kind"], before)
        version = catalogue.record(conn, row["client_service_id"], name, row["kind"], source, actor,
                                   note or "edited")
        conn.execute(Q.insert_audit, {"actor": actor, "action": "function.edit", "target": name,
                                      "before": Jsonb({"version": row["version"]}),
                                      "after": Jsonb({"version": version, "note": note or "edited"})})
        conn.execute(Q.notify_registry_changed, ("function",))
    return {"name": name, "version": version}


def _definitions(conn):
    return {r["name"]: r["definition"] for r in conn.execute(Q.schema_function_definitions,
                                                             {"schema": FUNCTION_SCHEMA})}


def _execute_single_command(conn, source):
    # PQexecParams: the server refuses several commands, and no client-side
    # placeholder parsing touches the DBA's '%' characters.
    # A savepoint, so the error below can be reported cleanly; the DDL runs as the function owner.
    with catalogue.as_function_owner(conn):
        result = conn.pgconn.exec_params(source.encode(), [])
        if result.status not in (ExecStatus.COMMAND_OK, ExecStatus.TUPLES_OK):
            error = pg_errors.error_from_result(result, encoding=conn.info.encoding)
            raise FunctionRefused(_describe(error), details=_position(error, source)) from None


def _describe(error):
    diag = error.diag
    message = diag.message_primary or str(error)
    if diag.context:
        message += f" ({diag.context.strip().splitlines()[0]})"
    return message


def _position(error, source):
    details = {"sqlstate": error.sqlstate}
    position = error.diag.statement_position
    if position and position.isdigit():
        details["line"] = source[: int(position)].count("\n") + 1
    elif error.diag.context and " line " in error.diag.context:
        details["context"] = error.diag.context.strip()
    return details


def _check_result(conn, name, kind, before):
    after = _definitions(conn)
    others_changed = {n for n in set(before) | set(after) if n != name and before.get(n) != after.get(n)}
    if others_changed:
        raise FunctionRefused(f"The source must create or replace {name!r} only.",
                              details={"changed": sorted(others_changed)[:5]})
    _check_signature(conn, name, kind)


def _check_signature(conn, name, kind):
    signature = conn.execute(Q.function_signature, {"schema": FUNCTION_SCHEMA, "name": name}).fetchall()
    if len(signature) != 1 or signature[0]["arguments"] != SIGNATURES[kind] or signature[0]["returns"] != "jsonb" \
            or signature[0]["returns_set"]:
        raise FunctionRefused(
            f"{name} must keep the signature ({SIGNATURES[kind]}) RETURNS jsonb, which the switch calls.")
    if signature[0]["security_definer"]:
        raise FunctionRefused("SECURITY DEFINER functions are not allowed: they would escape the sandbox.")
    if signature[0]["language"] not in ALLOWED_LANGUAGES:
        raise FunctionRefused(f"Functions must be written in {' or '.join(ALLOWED_LANGUAGES)}.")


def rollback(rt, name, version, actor):
    """Apply an earlier version's source again, as a new version."""
    source = version_source(rt, name, version)["source"]
    return save(rt, name, source, actor, note=f"rollback to version {version}")


def record_drift(rt, name, actor):
    """Record the function as PostgreSQL has it now (edited in psql) as a new version."""
    with rt.db.transaction() as conn:
        conn.execute(Q.lock_function, {"name": name})
        row = _latest(conn, name)
        definition = catalogue.current_definition(conn, name)
        if definition is None:
            raise NotFound(f"{name} no longer exists in PostgreSQL; roll back to a version to restore it.")
        if _drift(row, definition) == "in_step":
            return {"name": name, "version": row["version"], "recorded": False}
        _check_signature(conn, name, row["kind"])
        version = catalogue.record(conn, row["client_service_id"], name, row["kind"], definition, actor,
                                   "recorded drift (edited outside the switch)")
    return {"name": name, "version": version, "recorded": True}


def regenerate(rt, name, actor, force=False):
    """Render the template again; refuses to overwrite a customised function unless ``force``."""
    with rt.db.connection() as conn:
        row = _latest(conn, name)
        first = conn.execute(Q.function_version, {"name": name, "version": 1}).fetchone()
        definition = catalogue.current_definition(conn, name)
    customised = row["source"] != first["source"] or _drift(row, definition) != "in_step"
    if customised and not force:
        raise Customised(details={"version": row["version"], "drift": _drift(row, definition)})
    source = render(row["template"], row["kind"], schema=FUNCTION_SCHEMA,
                    request_function=row["request_function"], response_function=row["response_function"],
                    callback_function=row["callback_function"], status_function=row["status_function"],
                    client={"app_id": row["app_id"], "name": row["client_name"]},
                    service={k: row[k] for k in ("microservice", "service", "route", "url", "method", "timeout_ms")})
    return save(rt, name, source, actor, note=f"regenerated from template {row['template']}")


def test_run(rt, name, request, response=None):
    """Run a function on sample input in the sandbox; nothing forwarded, nothing recorded."""
    if not isinstance(request, dict):
        raise ValidationFailed(details={"request": "must be an object of f000–f010 fields"})
    with rt.db.connection() as conn:
        row = _latest(conn, name)
    route = rt.registry.route(row["app_id"], row["microservice"], row["service"], row["route"])
    if route is None:
        raise NotFound("The route is not loaded; is the client active?")
    context = {**route.context, "transaction_ref": f"TEST-{uuid.uuid4()}", "transaction_id": None,
               "unique_id": request.get("f010"), "test_run": True}
    if row["kind"] == "response" and not isinstance(response, dict):
        raise ValidationFailed(details={"response": 'must be an object like {"status_code": 200, "body": {...}}'})
    # Exactly the path a payment takes: the client's own pool and role, the time limit, the watchdog;
    # nothing it writes is kept.
    query, args, check = {
        "request": (route.request_sql, (request, context),
                    lambda result: call_spec.parse_call_spec(result, rt.config.MAX_TIMEOUT_MS,
                                                            rt.config.MAX_UPSTREAM_BODY_BYTES)),
        # A STATUS function builds a call like a request function (the stored message, the payment's context).
        "status": (route.status_sql, (request, context),
                   lambda result: call_spec.parse_call_spec(result, rt.config.MAX_TIMEOUT_MS,
                                                           rt.config.MAX_UPSTREAM_BODY_BYTES)),
        # ``request`` is the provider's notification; ``response`` (optional) its headers.
        "callback": (route.callback_sql, (request, response or {}, context), call_spec.parse_callback),
        "response": (route.response_sql, (request, response, context), call_spec.parse_answer),
    }[row["kind"]]
    try:
        result = runner.run(rt, rt.registry.client(route.app_id), query, args, rollback=True)
    except runner.FunctionFailure as failure:
        return {"ok": False, "error": failure.error.code, "detail": failure.detail}
    verdict = _verdict(lambda: check(result))
    return {"ok": verdict is None, "result": result, "problem": verdict}


def _verdict(check):
    try:
        check()
    except ValueError as problem:
        return str(problem)
    return None

