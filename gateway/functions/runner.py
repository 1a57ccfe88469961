"""Calls a client's request and response functions inside the sandbox.

Each call is its own short statement on the shared function pool, through the client's gate, as the
client's own execution role (``gateway.functions.tenants``), with a statement timeout: a function cannot touch the
switch's tables (not even by RESET ROLE), cannot reach another client and cannot run for ever. A function's PostgreSQL
error becomes the switch's error through the one SQLSTATE map (``errors.from_database_error``).
"""

import psycopg
from psycopg.types.json import Jsonb

from gateway.db import Q, direct
from gateway.errors import FunctionError, FunctionTimeout, from_database_error


class FunctionFailure(Exception):
    """A function failed; ``error`` is what the client sees, ``detail`` what admins see."""

    def __init__(self, error, detail):
        super().__init__(detail)
        self.error = error
        self.detail = detail


def configure_connection(timeout_ms):
    """Pool hook: every sandbox connection starts with the function statement timeout."""

    def configure(conn):
        # Never prepared: a function may DEALLOCATE ALL, which would take psycopg's statements away from the next
        # tenant's call (tests/security/test_attack_shared_function_pool.py), and preparing the calls saved
        # nothing measurable (bench/gate_cost.py: gate + end_call 255 µs unprepared, 293 µs prepared).
        conn.prepare_threshold = None
        conn.execute(Q.set_function_timeout, (str(timeout_ms),))

    return configure


def run(rt, client, query, args, rollback=False):
    """Run ``client``'s function the one way every caller must: on the function pool through its gate (its own
    role, ``rt.tenants``), under the statement
    timeout, and watched from outside (``rt.watchdog``) so that catching ``query_canceled`` or switching
    the timeout off cannot outlive the limit: such a call's backend is terminated and answers
    ``FUNCTION_TIMEOUT``."""
    timeout_ms = rt.config.FUNCTION_TIMEOUT_MS
    with rt.tenants.connection(client) as conn:
        # ``fired`` is read once the guard has ended the watch: a watch is then done or fired, never about to fire.
        try:
            with rt.watchdog.guard(conn.info.backend_pid, timeout_ms / 1000) as watch:
                return call(conn, query, args, timeout_ms, rollback)
        except psycopg.Error:
            if not watch.fired:
                raise
        finally:
            if watch.fired:
                conn.close()  # terminated, or about to be: never back into the pool
        raise FunctionFailure(FunctionTimeout(), "terminated by the switch: the function outlived its time limit "
                                                 f"of {timeout_ms} ms (it caught or disabled the statement timeout)")


def call(conn, query, args, timeout_ms, rollback=False):
    """Run a function call with ``args`` in the sandbox, in one statement; returns its jsonb result.

    The connection's statement timeout (set when it was opened, restored by
    every call) bounds the function. ``rollback`` runs it in a transaction
    that is rolled back, discarding whatever it wrote (the DBA's test runs).
    """
    params = [*(Jsonb(arg) for arg in args), str(timeout_ms)]
    try:
        if rollback:
            with conn.transaction(force_rollback=True):
                row = conn.execute(query, params).fetchone()
        else:
            row = direct.fetch_one(conn, query, params)  # never prepared: a tenant may DEALLOCATE ALL
    except psycopg.Error as exc:
        if conn.broken:
            if not exc.sqlstate or exc.sqlstate.startswith(("08", "57P")):
                raise  # the connection itself failed: the database layer reports it
            raise _failure(exc) from exc  # what the function did ended its backend (FATAL: out of memory)
        # Whatever its SQLSTATE (a function may RAISE one of class 08 itself), the connection works: the error is
        # the function's, and what it left in the session (end_call never ran) must not reach anyone else.
        _end_failed_call(conn, timeout_ms)
        raise _failure(exc) from exc  # anything the function did: stack depth, out of memory, locks…
    return row["result"]


def _end_failed_call(conn, timeout_ms):
    """Clear the session as ``end_call`` would have, or close it: a function failing on every call must not cost
    a new PostgreSQL session each time (its aborted transaction took its settings, temporary tables, triggers
    and cursors with it; what outlives a rollback, end_call clears)."""
    try:
        conn.execute(Q.end_failed_call, (str(timeout_ms),))
    except psycopg.Error:
        conn.close()


def _failure(exc):
    diag = exc.diag
    detail = f"{exc.sqlstate or ''} {diag.message_primary or exc}".strip()
    if diag.context:
        detail += f"\n{diag.context}"
    # A healthy connection answered: a "connection" SQLSTATE is the function's own words, not an outage.
    connection_state = (exc.sqlstate or "").startswith(("08", "57P"))
    error = FunctionError() if connection_state else from_database_error(exc, function=True)
    return FunctionFailure(error, detail)
