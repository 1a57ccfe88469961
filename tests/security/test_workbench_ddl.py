"""Attack: a hostile DBA uses the workbench to run DDL other than their own function.

Before: a `dba` saved a source through ``PUT /api/v1/admin/functions/<name>`` that created
``public.x(...) SECURITY DEFINER`` instead, on the switch's owner connection, and a request function
then called it to read every bcrypt hash and run a shell command. Now the source is parsed by
PostgreSQL's own parser first: exactly one CREATE FUNCTION of the named function, or nothing runs.
"""

import psycopg
import pytest

from tests.factories import Admin, user_token

SIGNATURE = "(request jsonb, context jsonb) RETURNS jsonb"
BODY = "AS $f$ BEGIN RETURN request; END $f$"


@pytest.fixture
def dba(base_url, admin):
    return Admin(base_url, user_token(base_url, admin, "dba"))


@pytest.fixture
def fn(integrator):
    return f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"


def function_exists(db, schema, name):
    return bool(db("SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                   "WHERE n.nspname = %s AND p.proname = %s", (schema, name)))


@pytest.mark.parametrize("source, reason", [
    # Another function, elsewhere, with its owner's rights: the escalation that was found.
    ('CREATE OR REPLACE FUNCTION public.x(q text) RETURNS text LANGUAGE plpgsql SECURITY DEFINER '
     'AS $f$ BEGIN EXECUTE q; RETURN q; END $f$', "must create"),
    # The right name, but it would run as its owner.
    ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + ' LANGUAGE plpgsql SECURITY DEFINER ' + BODY,
     "SECURITY DEFINER"),
    # A second statement after the function.
    ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + ' LANGUAGE plpgsql ' + BODY +
     '; CREATE FUNCTION public.y() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$', "exactly one statement"),
    # A second statement hidden behind a comment that closes early.
    ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + ' LANGUAGE plpgsql ' + BODY +
     ' /* */ ; ALTER ROLE mospay_sandbox SUPERUSER', "exactly one statement"),
    # Unqualified: it would land in whatever schema comes first on the search path.
    ('CREATE OR REPLACE FUNCTION "{fn}"' + SIGNATURE + ' LANGUAGE plpgsql ' + BODY, "schema-qualified"),
    # A role change attached to the function.
    ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + ' LANGUAGE plpgsql SET role = postgres ' + BODY,
     "may not SET role"),
    # An untrusted language.
    ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + " LANGUAGE c AS 'libc', 'system'",
     "plpgsql or sql"),
])
def test_only_the_named_function_can_be_created(dba, fn, db, source, reason):
    before = db("SELECT count(*) AS n FROM mospay.function_versions")[0]["n"]

    response = dba.put(f"/functions/{fn}", {"source": source.format(fn=fn)})

    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "FUNCTION_REFUSED" and reason in response.json()["error"]["message"]
    assert not function_exists(db, "public", "x") and not function_exists(db, "public", "y")
    assert db("SELECT count(*) AS n FROM mospay.function_versions")[0]["n"] == before
    assert not db("SELECT 1 FROM pg_roles WHERE rolname = 'mospay_sandbox' AND rolsuper")


def test_ddl_inside_the_body_stays_a_string(dba, fn, db):
    """Text that looks like DDL inside the function's dollar-quoted body is just its body: saved, not run."""
    source = ('CREATE OR REPLACE FUNCTION mospay_fn."{fn}"' + SIGNATURE + " LANGUAGE plpgsql AS $f$ BEGIN "
              "-- CREATE FUNCTION public.z() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n"
              "RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'body', request); END $f$")

    response = dba.put(f"/functions/{fn}", {"source": source.format(fn=fn)})

    assert response.status_code == 200, response.text
    assert not function_exists(db, "public", "z")


@pytest.mark.parametrize("statement", [
    "CREATE FUNCTION public.run_anything(q text) RETURNS void LANGUAGE plpgsql SECURITY DEFINER "
    "AS $f$ BEGIN EXECUTE q; END $f$",
    "CREATE PROCEDURE public.run_anything(q text) LANGUAGE plpgsql SECURITY DEFINER AS $f$ BEGIN EXECUTE q; END $f$",
    "CREATE FUNCTION mospay.run_anything(q text) RETURNS void LANGUAGE sql SECURITY DEFINER AS $f$ SELECT $f$",
    "CREATE FUNCTION public.run_anything(q text) RETURNS void LANGUAGE sql AS $f$ SELECT $f$; "
    "ALTER FUNCTION public.run_anything(text) SECURITY DEFINER",
])
def test_security_definer_is_refused_in_every_schema_even_from_psql(rt, db, statement):
    """The event trigger (migration 0011) refuses SECURITY DEFINER anywhere in the database, not only mospay_fn."""
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="SECURITY DEFINER"), conn.transaction():
            conn.execute(statement)

    assert not db("SELECT 1 FROM pg_proc WHERE proname = 'run_anything'")


def test_function_ddl_runs_as_the_function_owner_who_cannot_see_the_switchs_schema(dba, fn, db, integrator):
    """Assignment and workbench DDL run as mospay_fn_owner (migration 0012), never as the switch's role."""
    owner = "SELECT pg_get_userbyid(p.proowner) AS owner FROM pg_proc p WHERE p.proname = %s"
    assert db(owner, (fn,)) == [{"owner": "mospay_fn_owner"}]  # as generated at assignment

    saved = dba.put(f"/functions/{fn}", {"source": f'CREATE OR REPLACE FUNCTION mospay_fn."{fn}"{SIGNATURE} '
                                                  "LANGUAGE plpgsql AS $f$ BEGIN RETURN jsonb_build_object("
                                                  "'url', context #>> '{service,url}', 'body', request); END $f$"})
    assert saved.status_code == 200, saved.text
    assert db(owner, (fn,)) == [{"owner": "mospay_fn_owner"}]

    # A SQL-standard body is resolved when it is created: as the owner, the switch's schema is out of reach.
    peeking = dba.put(f"/functions/{fn}", {"source": f'CREATE OR REPLACE FUNCTION mospay_fn."{fn}"{SIGNATURE} '
                                                   "LANGUAGE sql BEGIN ATOMIC SELECT to_jsonb(u) FROM mospay.users u "
                                                   "LIMIT 1; END"})
    assert peeking.status_code == 400 and "permission denied for schema mospay" in peeking.text, peeking.text
    assert integrator.pay().status_code == 200
