"""The payment's hot statements, sent to libpq directly instead of through psycopg's cursor.

A payment runs four statements (claim, two function calls, settlement). Through ``Connection.execute`` each
cost about 135 µs of Python in the worker: the cursor, the adapters' transformer, the query's conversion and the
wait generator (``python bench/statement_cost.py`` times both ways). Here the named SQL is converted to ``$n``
once, each parameter is written by a small table of types, the statement is sent with libpq's ``PQexecParams``
or ``PQexecPrepared`` (which release the GIL while the server works), and the row is read back with psycopg's own
loaders, so callers get the same Python values as before. Anything the table does not know goes through psycopg
as before; errors are psycopg's exceptions, built from the same server result.

Text parameters are checked for NUL: libpq reads a text parameter up to its first NUL, so a unique id with one
in it would be cut short instead of refused (psycopg refuses it, and so does this).
"""

import datetime
import decimal
import itertools
import re
import uuid
import weakref
from collections.abc import Mapping
from functools import lru_cache

import orjson
import psycopg
from psycopg import errors, pq
from psycopg.types.json import Jsonb

_PLACEHOLDER = re.compile(rb"%(?:\((\w+)\))?(.)")
_PREPARED_PER_CONNECTION = 64  # statements a connection keeps prepared; a route's function calls are never


class Unsupported(Exception):
    """A parameter this module does not write: the statement goes through psycopg instead."""


class DirectStatement:
    """One SQL text with psycopg placeholders (all ``%(name)s`` or all ``%s``), converted to ``$n`` once."""

    def __init__(self, query):
        text = query.encode() if isinstance(query, str) else bytes(query)
        self.names, self.positional = [], 0
        self.sql = _PLACEHOLDER.sub(self._number, text)
        if self.names and self.positional:
            raise ValueError("a query mixes named and positional placeholders")
        self._columns = {}  # result column types → (names, loaders), made on the first row of that shape

    def _number(self, match):
        name, kind = match.group(1), match.group(2)
        if kind == b"%" and name is None:
            return b"%"
        if kind != b"s":
            raise ValueError(f"placeholder %{kind.decode()} is not supported here")
        if name is None:
            self.positional += 1
            return b"$%d" % self.positional
        key = name.decode()
        if key not in self.names:
            self.names.append(key)
        return b"$%d" % (self.names.index(key) + 1)

    def values(self, params):
        """``params`` (a mapping or a sequence, as the placeholders are) in ``$n`` order.

        Any other shape goes to psycopg, which refuses it: a mapping or a str read as a sequence would send its
        keys or its characters."""
        if self.names:
            if not isinstance(params, Mapping):
                raise Unsupported()
            try:
                return [params[name] for name in self.names]
            except KeyError:
                raise Unsupported() from None
        if isinstance(params, (str, bytes, Mapping)) or len(params) != self.positional:
            raise Unsupported()
        return list(params)

    def row(self, conn, result):
        """The result's first row as a dict of Python values (psycopg's loaders), or ``None``."""
        if result.ntuples == 0:
            return None
        shape = tuple(result.ftype(i) for i in range(result.nfields))
        columns = self._columns.get(shape)
        if columns is None:
            names = [result.fname(i).decode() for i in range(result.nfields)]
            loaders = [conn.adapters.get_loader(oid, pq.Format.TEXT)(oid, conn).load for oid in shape]
            columns = self._columns[shape] = (names, loaders)
        names, loaders = columns
        out = {}
        for index, (name, load) in enumerate(zip(names, loaders, strict=True)):
            value = result.get_value(0, index)
            out[name] = None if value is None else load(value)
        return out


@lru_cache(maxsize=8192)
def statement(query):
    """The ``DirectStatement`` of ``query`` (str or bytes), made once per text."""
    return DirectStatement(query)


def fetch_one(conn, query, params=(), prepare=False):
    """Run ``query`` on ``conn`` (autocommit, or inside a transaction psycopg opened) and return its first row.

    ``prepare``: keep the statement prepared on this connection (never on the function pool, where a tenant
    may DEALLOCATE ALL). Falls back to ``conn.execute`` for parameters outside the table below.
    """
    compiled = statement(query)
    if conn.pgconn.parameter_status(b"client_encoding") != b"UTF8":
        return conn.execute(query, params).fetchone()  # psycopg writes text in the session's encoding; here UTF-8
    try:
        values = compiled.values(params)
        encoded = [_encode(value) for value in values]
    except Unsupported:
        return conn.execute(query, params).fetchone()
    args = [item[1] for item in encoded]
    formats = [item[2] for item in encoded]
    if prepare:
        result = _exec_prepared(conn, compiled, tuple(item[0] for item in encoded), args, formats)
    else:
        result = conn.pgconn.exec_params(compiled.sql, args, [item[0] for item in encoded], formats)
    _check(conn, result)
    if result.status != pq.ExecStatus.TUPLES_OK:
        # psycopg's fetchone refuses it: read as None, an UPDATE without RETURNING would look like no row found
        raise psycopg.ProgrammingError("the last operation didn't produce records")
    return compiled.row(conn, result)


_prepared = weakref.WeakKeyDictionary()  # connection → {(sql, types): name}


def _exec_prepared(conn, compiled, types, args, formats):
    names = _prepared.get(conn)
    if names is None:
        names = _prepared[conn] = {None: itertools.count()}  # names are never reused on a connection
    key = (compiled.sql, types)
    name = names.get(key)
    if name is None:
        if len(names) > _PREPARED_PER_CONNECTION:
            return conn.pgconn.exec_params(compiled.sql, args, list(types), formats)
        name = b"_mospay_%d" % next(names[None])
        _check(conn, conn.pgconn.prepare(name, compiled.sql, list(types)))
        names[key] = name
    result = conn.pgconn.exec_prepared(name, args, formats)
    if result.status == pq.ExecStatus.FATAL_ERROR and result.error_field(pq.DiagnosticField.SQLSTATE) == b"26000":
        # Someone deallocated it (the statement did not run): forget this connection's names, send it plainly.
        for stale in [k for k in names if k is not None]:
            del names[stale]
        result = conn.pgconn.exec_params(compiled.sql, args, list(types), formats)
    return result


def _check(conn, result):
    if result.status in (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK):
        return
    if result.status == pq.ExecStatus.FATAL_ERROR:
        if conn.pgconn.status == pq.ConnStatus.BAD and not result.error_field(pq.DiagnosticField.SQLSTATE):
            # The session was lost mid-statement: libpq's result has no SQLSTATE, which would make it a bare
            # DatabaseError; psycopg raises OperationalError, which callers read as the database unavailable.
            raise psycopg.OperationalError(pq.error_message(result, encoding=conn.info.encoding))
        raise errors.error_from_result(result, encoding=conn.info.encoding)
    raise psycopg.OperationalError(f"unexpected result from the server: {pq.ExecStatus(result.status).name}")


# Each Python type → (type OID, how it is written, format): the OIDs psycopg's own dumpers use.
_TEXT, _BINARY = 0, 1
_NUL = "PostgreSQL text fields cannot contain NUL (0x00) bytes"


def _text(value):
    if "\x00" in value:
        raise psycopg.DataError(_NUL)
    return value.encode()


def _int(value):
    oid = 21 if -32768 <= value <= 32767 else 23 if -2**31 <= value < 2**31 else \
        20 if -2**63 <= value < 2**63 else 1700
    return oid, str(value).encode(), _TEXT


def _json(value, dumps=None):
    data = (dumps or dumps_json)(value)
    return 3802, (data.encode() if isinstance(data, str) else data), _TEXT  # a Jsonb's own dumps may return str


def dumps_json(value):
    """JSON for jsonb parameters, here and through psycopg (``gateway.db.database`` sets it as psycopg's)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)  # bytes: psycopg sends them as they are


def _text_array(values):
    if not all(isinstance(value, str) for value in values):
        raise Unsupported()
    quoted = ('"' + _text(value).decode().replace("\\", "\\\\").replace('"', '\\"') + '"' for value in values)
    return 1009, ("{" + ",".join(quoted) + "}").encode(), _TEXT


def _datetime(value):
    if value.tzinfo is not None and value.utcoffset() is None:
        raise Unsupported()  # psycopg refuses it; written without an offset, the session's zone would be assumed
    return (1114 if value.tzinfo is None else 1184), value.isoformat().encode(), _TEXT


_WRITERS = {
    str: lambda value: (0, _text(value), _TEXT),  # unknown: the server types it from the statement, as psycopg does
    bool: lambda value: (16, b"t" if value else b"f", _TEXT),
    int: _int,
    float: lambda value: (701, repr(value).encode(), _TEXT),
    decimal.Decimal: lambda value: (1700, b"NaN" if value.is_nan() else str(value).encode(), _TEXT),  # sNaN too
    bytes: lambda value: (17, value, _BINARY),
    Jsonb: lambda value: _json(value.obj, value.dumps),
    list: _text_array,  # not tuple: psycopg does not write a tuple as an array
    datetime.datetime: _datetime,
    uuid.UUID: lambda value: (2950, str(value).encode(), _TEXT),
}


def _encode(value):
    if value is None:
        return 0, None, _TEXT
    writer = _WRITERS.get(type(value))
    if writer is None:
        raise Unsupported()
    return writer(value)
