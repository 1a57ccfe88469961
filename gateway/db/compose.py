"""Composed queries: SQLAlchemy Core statements compiled for PostgreSQL and run on the switch's psycopg pool.

The hot path and the services keep their named SQL (``sql/queries``). Lists and reports whose WHERE clause
depends on the filters a reader set are composed instead, so that each filter combination is a statement of
its own (``client_id = …`` appears only when a client is chosen) that can use the index made for it, where a
single ``(%(x)s IS NULL OR x = %(x)s)`` statement would get one generic plan for all. Values are always bound
parameters; no SQL is built from strings. There is no engine and no ORM: compile, then ``conn.execute``.
"""

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import psycopg

_DIALECT = psycopg.dialect()


def compiled(statement):
    """``(sql, params)`` of ``statement`` in psycopg's ``%(name)s`` style."""
    result = statement.compile(dialect=_DIALECT, compile_kwargs={"render_postcompile": True})  # IN lists
    return str(result), result.params


def execute(conn, statement):
    """Run ``statement`` on a psycopg connection; returns its cursor."""
    sql, params = compiled(statement)
    return conn.execute(sql, params)


def fetch_all(db, statement):
    """Every row of ``statement``, as dicts, on a pooled connection."""
    with db.connection() as conn:
        return execute(conn, statement).fetchall()


def fetch_one(db, statement):
    """The first row of ``statement`` (or ``None``)."""
    with db.connection() as conn:
        return execute(conn, statement).fetchone()


def count_upto(db, statement, cap):
    """How many rows ``statement`` has, counting no further than ``cap`` (a bounded index range, not a scan).

    ``statement`` must name its joins explicitly (``select_from``): only its first column is kept.
    """
    first = next(iter(statement.selected_columns))
    bounded = select(func.count().label("count")).select_from(
        statement.with_only_columns(first).limit(cap).subquery())
    return fetch_one(db, bounded)["count"]
