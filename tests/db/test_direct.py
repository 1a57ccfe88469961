"""The hot statements sent to libpq directly: the same rows, the same errors and the same refusals as psycopg's
``execute``, so that a caller cannot tell the two apart."""

import datetime
import decimal
import uuid

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from gateway.db import direct

EVERY_TYPE = (
    "SELECT %(big)s::bigint AS big, %(small)s + 1 AS small, %(text)s AS text, %(doc)s::jsonb AS doc, "
    "%(hash)s::bytea AS hash, %(states)s::text[] AS states, %(flag)s::boolean AS flag, %(missing)s::int AS missing, "
    "%(at)s::timestamptz AS at, %(amount)s::numeric AS amount, %(ratio)s::float8 AS ratio, %(id)s::uuid AS id, "
    "'100%%' AS percent, now() AS now"
)
PARAMS = {
    "big": 2**40, "small": 7, "text": "it's \"quoted\" \\ é", "doc": Jsonb({"f004": "1500", "nested": [1, None, "ü"]}),
    "hash": b"\x00\x01\xff", "states": ["RECEIVED", 'odd "one"', "back\\slash"], "flag": False, "missing": None,
    "at": datetime.datetime(2026, 12, 1, 10, 30, tzinfo=datetime.UTC), "amount": decimal.Decimal("1500.25"),
    "ratio": 0.125, "id": uuid.UUID("9c9e958b-be89-4c78-b7e6-cc7774fa6ab1"),
}


@pytest.fixture
def conn(database_url):
    with psycopg.connect(database_url, autocommit=True, row_factory=dict_row) as connection:
        yield connection


@pytest.mark.parametrize("prepare", [False, True])
def test_a_row_reads_the_same_as_through_psycopg(conn, prepare):
    expected = conn.execute(EVERY_TYPE, PARAMS).fetchone()
    for _ in range(2):  # the second time, a prepared statement is reused
        row = direct.fetch_one(conn, EVERY_TYPE, PARAMS, prepare=prepare)
        assert row.keys() == expected.keys()
        assert {k: v for k, v in row.items() if k != "now"} == {k: v for k, v in expected.items() if k != "now"}
        assert type(row["at"]) is type(expected["at"]) and row["amount"] == decimal.Decimal("1500.25")


def test_positional_placeholders_and_no_row(conn):
    assert direct.fetch_one(conn, b"SELECT %s::int + %s AS sum", (2, 3)) == {"sum": 5}
    assert direct.fetch_one(conn, "SELECT 1 AS one WHERE %s", (False,)) is None


def test_a_unique_id_with_a_nul_is_refused_not_cut_short(conn):
    """libpq reads a text parameter up to its first NUL: sent as it is, 'abc\\0def' would arrive as 'abc', and
    could take another payment's unique id. It is refused, as psycopg refuses it."""
    with pytest.raises(psycopg.DataError, match="NUL"):
        direct.fetch_one(conn, "SELECT %(u)s::text AS u", {"u": "abc\x00def"})
    with pytest.raises(psycopg.DataError, match="NUL"):
        direct.fetch_one(conn, "SELECT %(s)s::text[] AS s", {"s": ["ok", "abc\x00"]})


def test_a_server_error_is_psycopgs_own_exception(conn):
    with pytest.raises(psycopg.errors.DivisionByZero) as caught:
        direct.fetch_one(conn, "SELECT 1 / %(zero)s::int AS x", {"zero": 0}, prepare=True)
    assert caught.value.sqlstate == "22012" and caught.value.diag.message_primary == "division by zero"
    assert direct.fetch_one(conn, "SELECT 1 AS one") == {"one": 1}  # the session goes on


def test_a_prepared_statement_taken_away_is_sent_again(conn):
    """Nothing on the switch's own pool deallocates, but if anything did, the payment must not fail for it."""
    query = "SELECT %(n)s::int * 2 AS twice"
    assert direct.fetch_one(conn, query, {"n": 2}, prepare=True) == {"twice": 4}
    conn.execute("DEALLOCATE ALL")
    assert direct.fetch_one(conn, query, {"n": 3}, prepare=True) == {"twice": 6}
    assert direct.fetch_one(conn, query, {"n": 4}, prepare=True) == {"twice": 8}


def test_a_type_the_table_does_not_know_goes_through_psycopg(conn):
    assert direct.fetch_one(conn, "SELECT %(d)s::date AS d", {"d": datetime.date(2026, 12, 1)}) == \
        {"d": datetime.date(2026, 12, 1)}


def test_an_int_beyond_bigint_is_numeric_as_psycopg_sends_it(conn):
    assert direct.fetch_one(conn, "SELECT %(n)s AS n", {"n": 2**70}) == {"n": 2**70}


def test_a_mixed_or_unknown_placeholder_is_refused_at_once():
    with pytest.raises(ValueError):
        direct.DirectStatement("SELECT %(a)s, %s")
    with pytest.raises(ValueError):
        direct.DirectStatement("SELECT %b")


def test_a_connection_lost_mid_statement_is_an_operational_error(conn, database_url):
    """libpq reports the lost session as an error result without SQLSTATE; psycopg raises OperationalError for it
    (AdminShutdown, 57P01, when terminated), which the pool's caller turns into DatabaseUnavailable."""
    import threading
    with psycopg.connect(database_url, autocommit=True) as admin:
        pid = conn.info.backend_pid
        timer = threading.Timer(0.3, lambda: admin.execute("SELECT pg_terminate_backend(%s)", (pid,)))
        timer.start()
        with pytest.raises(psycopg.OperationalError):
            direct.fetch_one(conn, "SELECT pg_sleep(%(s)s) AS s", {"s": 5}, prepare=True)
        timer.join()
    assert conn.broken


def test_a_connection_not_in_utf8_writes_text_in_its_own_encoding(conn):
    """psycopg encodes text in the connection's client encoding; UTF-8 bytes sent to a LATIN1 session would be
    stored as other characters ('é' as 'Ã©'), and a character it cannot hold would not be refused."""
    conn.execute("SET client_encoding TO 'LATIN1'")
    for prepare in (False, True):
        assert direct.fetch_one(conn, "SELECT %(t)s::text AS t", {"t": "é"}, prepare=prepare) == {"t": "é"}
        assert direct.fetch_one(conn, "SELECT %(t)s::text[] AS t", {"t": ["é"]}, prepare=prepare) == {"t": ["é"]}
        with pytest.raises(UnicodeEncodeError):
            direct.fetch_one(conn, "SELECT %(t)s::text AS t", {"t": "€"}, prepare=prepare)


class _NoOffset(datetime.tzinfo):
    def utcoffset(self, dt):
        return None

    def dst(self, dt):
        return None


@pytest.mark.parametrize(("query", "params", "error"), [
    ("SELECT %s::text AS t", {"a": 1}, TypeError),  # would send the mapping's key, 'a'
    ("SELECT %s::text AS t, %s::text AS u", "ab", TypeError),  # would send 'a' and 'b'
    ("SELECT %(a)s::int AS a", {}, psycopg.ProgrammingError),
    ("SELECT %(a)s::text[] AS a", {"a": ("x", "y")}, psycopg.DataError),  # psycopg does not write tuples as arrays
    # a tzinfo without an offset: psycopg refuses; sent without one, the session's time zone would be assumed
    ("SELECT %(a)s::timestamptz AS a", {"a": datetime.datetime(2026, 1, 1, tzinfo=_NoOffset())}, TypeError),
])
def test_what_psycopg_refuses_is_refused(conn, query, params, error):
    with pytest.raises(error):
        conn.execute(query, params).fetchone()
    with pytest.raises(error):
        direct.fetch_one(conn, query, params)


def test_a_statement_without_rows_is_refused_not_read_as_no_row(conn):
    """psycopg's fetchone refuses a statement that returns no rows at all (an UPDATE without RETURNING); read as
    ``None``, a settlement would look like a row not found."""
    query = "UPDATE pg_class SET relname = relname WHERE %(never)s"
    with pytest.raises(psycopg.ProgrammingError):
        conn.execute(query, {"never": False}).fetchone()
    for prepare in (False, True):
        with pytest.raises(psycopg.ProgrammingError):
            direct.fetch_one(conn, query, {"never": False}, prepare=prepare)


def test_what_psycopg_writes_is_written(conn):
    import json
    # a Jsonb's own dumps may return str, as json.dumps does; a signalling NaN is written as NaN
    params = {"doc": Jsonb({"a": 1}, dumps=json.dumps), "n": decimal.Decimal("sNaN")}
    query = "SELECT %(doc)s::jsonb AS doc, %(n)s::numeric::text AS n"
    assert direct.fetch_one(conn, query, params) == conn.execute(query, params).fetchone() == {"doc": {"a": 1},
                                                                                               "n": "NaN"}
