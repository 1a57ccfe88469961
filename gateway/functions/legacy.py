"""Importing an original MosPay installation's functions (``flask functions import-mospay FILE.sql``).

The original convention is ``(unique_id text, data_input json) RETURNS TABLE(results json)``,
answering ``{"action": "SERVICE", "serviceurl", "servicepayload"}``, ``{"action": "OUTPUT", …}``
or ``{"action": "ERROR", "message"}``. Imported functions keep their names in schema
``mospay_legacy``; a route whose service uses the ``mospay_legacy`` template gets generated
request and response functions that call them and translate (see its templates). The import
runs the file as the function owner, in one transaction: PostgreSQL checks it, and any failure changes nothing.
"""

import re

import psycopg
from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.functions.catalogue import as_function_owner
from gateway.functions.ddl import check_import_file
from gateway.functions.workbench import FunctionRefused

LEGACY_SCHEMA = "mospay_legacy"
CONVENTION = ("text, json", "json", True)  # argument types, result type, returns a set (TABLE)
# CREATE [OR REPLACE] FUNCTION <schema>.<name>: dumps name public (or mospay_legacy) explicitly.
_QUALIFIED = re.compile(r'(CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+)("?)([A-Za-z_][A-Za-z0-9_]*)\2\s*\.',
                        re.IGNORECASE)


def prepare(source):
    """``source`` with every ``public.`` function name moved to ``mospay_legacy``; refuses other schemas."""
    def move(match):
        if match.group(3).lower() not in ("public", LEGACY_SCHEMA):
            raise FunctionRefused(f"Functions are imported into {LEGACY_SCHEMA}; this file creates one in "
                                  f"schema {match.group(3)!r}.")
        return f"{match.group(1)}{LEGACY_SCHEMA}."
    return _QUALIFIED.sub(move, source)


def _functions(conn):
    return {row["name"]: row for row in conn.execute(Q.legacy_functions)}


def import_functions(rt, source, actor):
    """Run a MosPay function file into ``mospay_legacy``; returns the functions it created or changed."""
    source = prepare(source)
    try:
        check_import_file(source)
    except ValueError as problem:
        raise FunctionRefused(str(problem)) from None
    with rt.db.transaction() as conn:
        before = _functions(conn)
        try:
            # A savepoint in which the file runs as the function owner (CREATE in the function schemas,
            # nothing of the switch's): PostgreSQL's refusal is reported, nothing is kept.
            with as_function_owner(conn):
                conn.execute(Q.set_legacy_search_path)
                conn.execute(source)  # no parameters: several statements, and '%' is left alone
                conn.execute(Q.reset_file_settings)  # its SETs end with it, not on the pooled connection
        except psycopg.Error as exc:
            raise FunctionRefused(f"PostgreSQL refused the file: {exc.diag.message_primary or exc}",
                                  details={"sqlstate": exc.sqlstate}) from None
        after = _functions(conn)
        if any(row["security_definer"] for row in after.values()):
            raise FunctionRefused("SECURITY DEFINER functions are not allowed: they would escape the sandbox.")
        conn.execute(Q.grant_legacy_functions)  # every client's role, and nobody else, may call them
        changed = sorted(name for name, row in after.items()
                         if name not in before or before[name]["definition_hash"] != row["definition_hash"])
        imported = [{"name": name, "mospay_convention": (after[name]["argument_types"], after[name]["returns"],
                                                         after[name]["returns_set"]) == CONVENTION}
                    for name in changed]
        conn.execute(Q.insert_audit, {"actor": actor, "action": "functions.import_mospay", "target": LEGACY_SCHEMA,
                                      "before": None, "after": Jsonb({"functions": changed})})
        conn.execute(Q.notify_registry_changed, ("function",))
    return imported
