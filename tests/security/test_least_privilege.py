"""Issue 11 point 1: the switch never serves as a superuser or as the owner of its own schema.

DATABASE_URL is the owner: it migrates and makes the roles. Everything that serves
payments, pages and jobs logs in as the app role (``mospay_app_<database oid>``), which may
read and write the switch's rows and nothing more; the attacks that once went from the
workbench to superuser SQL and shell commands are tried here on that role's connection.
"""

import uuid

import psycopg
import pytest
import requests
from psycopg import sql

from tests.servers import clean_env, free_port, start_app, stop_app

HOSTILE = {
    "a SECURITY DEFINER helper in public": "CREATE FUNCTION public.run_anything(q text) RETURNS void "
                                           "LANGUAGE plpgsql SECURITY DEFINER AS $f$ BEGIN EXECUTE q; END $f$",
    "a shell command": "COPY (SELECT 1) TO PROGRAM 'id > /tmp/mospay-pwned'",
    "the password hashes of the server": "SELECT rolpassword FROM pg_authid",
    "a new table in the switch's schema": "CREATE TABLE mospay.loot (x text)",
    "a changed table": "ALTER TABLE mospay.users ADD COLUMN backdoor text",
    "a dropped table": "DROP TABLE mospay.audit_log",
    "superuser for itself": "ALTER ROLE CURRENT_USER SUPERUSER",
    "the server-program role": "GRANT pg_execute_server_program TO CURRENT_USER",
    "the owner's role": "SET ROLE postgres",
    "the server's files": "SELECT pg_read_file('/etc/passwd')",
    "the app role's own password": "SELECT password_sealed FROM mospay.app_role",
}


def test_the_switch_serves_as_a_role_that_owns_nothing_and_is_no_superuser(rt, db):
    [me] = db("SELECT current_user AS name, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolbypassrls, "
              "r.rolinherit, (SELECT count(*) FROM pg_tables WHERE schemaname = 'mospay' AND tableowner = current_user)"
              " AS tables_owned, pg_has_role(current_user, (SELECT nspowner FROM pg_namespace "
              "WHERE nspname = 'mospay'), 'MEMBER') AS owner_member FROM pg_roles r WHERE r.rolname = current_user")

    assert me["name"].startswith("mospay_app_")
    assert not any(me[k] for k in ("rolsuper", "rolcreaterole", "rolcreatedb", "rolbypassrls", "rolinherit"))
    assert me["tables_owned"] == 0 and not me["owner_member"]
    assert rt.config.APP_DATABASE_URL != rt.config.DATABASE_URL


@pytest.mark.parametrize("statement", HOSTILE.values(), ids=HOSTILE.keys())
def test_what_the_workbench_attack_ran_is_refused_on_the_serving_connection(rt, db, statement):
    users = db("SELECT count(*) AS n FROM mospay.users")

    with rt.db.connection() as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)

    assert db("SELECT count(*) AS n FROM mospay.users") == users
    assert not db("SELECT 1 FROM pg_proc WHERE proname = 'run_anything'")


def test_as_the_function_owner_the_switchs_rows_are_out_of_reach(rt):
    with rt.db.connection() as conn:
        for statement in ("SELECT password_hash FROM mospay.users",
                          "CREATE FUNCTION public.planted() RETURNS int LANGUAGE sql AS $f$ SELECT 1 $f$"):
            with pytest.raises(psycopg.Error), conn.transaction():
                conn.execute("SET LOCAL ROLE mospay_fn_owner")
                conn.execute(statement)


def test_the_watchdog_may_end_a_client_backend_only(rt, server_url):
    """The app role asks the owner to end a backend; the owner's helper refuses every non-client one."""
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner, rt.db.connection() as conn:
        owner_pid = owner.info.backend_pid
        assert conn.execute("SELECT mospay.terminate_client_backend(%s) AS ended", (owner_pid,)).fetchone() == \
            {"ended": False}
        assert conn.execute("SELECT mospay.terminate_client_backend(pg_backend_pid()) AS ended").fetchone() == \
            {"ended": False}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_terminate_backend(%s)", (owner_pid,))
        assert owner.execute("SELECT 1").fetchone() == (1,)


@pytest.fixture
def non_superuser_database(server_url):
    """A database owned by a login role with CREATEROLE, no superuser: what a managed PostgreSQL gives.

    Where a superuser already made mospay_fn_owner (another database on the server), it grants that role
    WITH ADMIN OPTION, and pg_signal_backend, to the new owner once: the README's "Database roles" steps.
    """
    tag = uuid.uuid4().hex[:8]
    owner, password, dbname = f"mospay_ns_{tag}", uuid.uuid4().hex, f"mospay_ns_{tag}"
    with psycopg.connect(server_url, autocommit=True) as su:
        su.execute(sql.SQL("CREATE ROLE {} LOGIN CREATEROLE PASSWORD {}").format(sql.Identifier(owner),
                                                                                 sql.Literal(password)))
        su.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(dbname), sql.Identifier(owner)))
        su.execute(sql.SQL("GRANT pg_signal_backend TO {}").format(sql.Identifier(owner)))
        if su.execute("SELECT 1 FROM pg_roles WHERE rolname = 'mospay_fn_owner'").fetchone():
            su.execute(sql.SQL("GRANT mospay_fn_owner TO {} WITH ADMIN OPTION").format(sql.Identifier(owner)))
    try:
        yield psycopg.conninfo.make_conninfo(server_url, user=owner, password=password, dbname=dbname)
    finally:
        with psycopg.connect(server_url, autocommit=True) as su:
            oid = su.execute("SELECT oid FROM pg_database WHERE datname = %s", (dbname,)).fetchone()[0]
            su.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(dbname)))
            made = su.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname IN (%s, %s)",
                              (f"mospay\\_t\\_{oid}\\_%", f"mospay_app_{oid}", f"mospay_r_{oid}")).fetchall()
            for (role,) in [*made, (owner,)]:
                su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


def test_python_app_py_runs_on_a_database_url_that_is_no_superuser(non_superuser_database, tmp_path):
    from tests.test_app import SAMPLE
    env = clean_env(DATABASE_URL=non_superuser_database, MOSPAY_DATA_DIR=tmp_path / "instance",
                    MOSPAY_ROUTES_DIR=tmp_path / "routes", PORT=free_port(), MOSPAY_SIMULATOR_PORT=free_port(),
                    WEB_CONCURRENCY=1, MOSPAY_WORKER=0)

    process = start_app(env)
    try:
        answer = requests.post(f"http://127.0.0.1:{env['PORT']}/api/v1/payment/process", json=SAMPLE, timeout=10,
                               auth=("akaliza", "akaliza-demo-secret"), headers={"App-ID": "akaliza"})
        with psycopg.connect(non_superuser_database) as conn:
            serving = {row[0] for row in conn.execute(  # backend_type is hidden from other roles: not filtered
                "SELECT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()")}
    finally:
        output = stop_app(process)

    assert answer.status_code == 202, answer.text + output  # MTN's real flow: PENDING, settled later
    assert answer.json()["status"] == "PENDING"
    assert serving and all(name.startswith(("mospay_app_", "mospay_r_")) for name in serving), serving
