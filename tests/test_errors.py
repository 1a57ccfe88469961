"""The one SQLSTATE map: each PostgreSQL failure becomes one switch error, wherever it happened."""

import psycopg
import pytest
from psycopg import errors as pg

from gateway import errors
from gateway.admin import onboarding
from tests.factories import unique_name


@pytest.fixture(scope="module")
def tenant(rt):
    """A client whose execution role runs the ``sandbox`` statements, as its functions would."""
    app_id = unique_name("errors")
    onboarding.create_client(rt, {"name": app_id, "app_id": app_id}, "test")
    return rt.registry.client(app_id)


def raised(rt, statement, sandbox=None):
    """The real exception PostgreSQL gives for ``statement`` (as ``sandbox``, a client, when given)."""
    connection = rt.tenants.connection(sandbox) if sandbox else rt.db.connection()
    with pytest.raises(psycopg.Error) as caught, connection as conn:
        conn.execute(statement)
    return caught.value


@pytest.mark.parametrize("statement, function, code, status", [
    ("SELECT 1/0", False, "BAD_REQUEST", 400),  # 22012: a value the switch cannot use
    ("DO $$ BEGIN RAISE unique_violation; END $$", False, "CONFLICT", 409),
    ("DO $$ BEGIN RAISE EXCEPTION 'limit exceeded'; END $$", True, "FUNCTION_RAISED", 400),
    ("SELECT pg_sleep(2)", True, "FUNCTION_TIMEOUT", 504),  # the sandbox's statement timeout
    ("SELECT 1/0", True, "FUNCTION_ERROR", 500),  # a function's own failure stays the route's
    ("SELECT * FROM mospay.users", True, "FUNCTION_ERROR", 500),  # 42501 in the sandbox
])
def test_each_sqlstate_maps_to_one_error(rt, tenant, statement, function, code, status):
    error = errors.from_database_error(raised(rt, statement, sandbox=function and tenant), function=function)

    assert (error.code, error.status) == (code, status)


def test_a_raised_message_is_the_functions_own_words(rt, tenant):
    error = errors.from_database_error(raised(rt, "DO $$ BEGIN RAISE EXCEPTION 'over the daily limit'; END $$",
                                              sandbox=tenant), function=True)

    assert error.message == "over the daily limit"


@pytest.mark.parametrize("exc, code", [
    (pg.AdminShutdown(), "DATABASE_UNAVAILABLE"),
    (psycopg.OperationalError("server closed the connection unexpectedly"), "DATABASE_UNAVAILABLE"),
    (psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"), "BAD_REQUEST"),
])
def test_connection_losses_and_client_side_refusals(exc, code):
    assert errors.from_database_error(exc).code == code
