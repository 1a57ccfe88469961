"""Calls a client's request and response functions inside the sandbox.

Each call is its own short transaction that first switches to the
sandbox role and sets a statement timeout, so a function cannot touch
the switch's tables and cannot run for ever. PostgreSQL errors become
the switch's error types here, and nowhere else.
"""

import psycopg
from psycopg import errors as pg_errors
from psycopg.types.json import Jsonb

from gateway.db import SANDBOX_ROLE, Q
from gateway.errors import FunctionError, FunctionRaised, FunctionTimeout


class FunctionFailure(Exception):
    """A function failed; ``error`` is what the client sees, ``detail`` what admins see."""

    def __init__(self, error, detail):
        super().__init__(detail)
        self.error = error
        self.detail = detail


def call(conn, query, args, timeout_ms, rollback=False):
    """Run a function call with ``args`` in the sandbox; returns its jsonb result.

    ``rollback`` discards whatever the function wrote (the DBA's test runs).
    """
    try:
        with conn.transaction(force_rollback=rollback):
            conn.execute(Q.enter_sandbox, (SANDBOX_ROLE, str(timeout_ms)))
            row = conn.execute(query, [Jsonb(arg) for arg in args]).fetchone()
    except pg_errors.QueryCanceled as exc:
        raise _failure(exc) from exc
    except psycopg.OperationalError:
        raise  # the connection itself failed: the database layer reports it
    except psycopg.Error as exc:
        raise _failure(exc) from exc
    return row["result"]


def _failure(exc):
    diag = exc.diag
    detail = f"{exc.sqlstate or ''} {diag.message_primary or exc}".strip()
    if diag.context:
        detail += f"\n{diag.context}"
    if isinstance(exc, pg_errors.QueryCanceled):
        return FunctionFailure(FunctionTimeout(), detail)
    if isinstance(exc, pg_errors.RaiseException):
        return FunctionFailure(FunctionRaised(diag.message_primary or "The function refused the request."), detail)
    return FunctionFailure(FunctionError(), detail)
