"""Attack: a tenant's function going after the next tenant through the session they now share (migration 0074).

Every client's functions run on one pool that logs in as the function runner, each call through its client's
SECURITY DEFINER gate. Here the pool holds a single connection, so the attacker's call and the victim's run in the
same PostgreSQL session, one after the other: whatever the attacker leaves behind, the victim would meet.
"""

import pytest

from config import Config
from tests.conftest import TEST_SETTINGS
from tests.factories import Integrator, replace_function, request_function_name

FORWARD = "RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);"

# Everything a function can leave in its session: settings (its own, the timeout, the search path, the
# application name), a LISTEN, a prepared statement, a cursor that outlives its transaction. (Advisory locks and
# temporary objects: refused outright, tests below.)
LEAVES_EVERYTHING = """BEGIN
    PERFORM set_config('mospay.leak', 'A-secret', false);
    PERFORM set_config('statement_timeout', '0', false);
    PERFORM set_config('search_path', 'pg_temp, mospay_fn, pg_catalog', false);
    PERFORM set_config('application_name', 'owned-by-A', false);
    LISTEN tenant_a;
    EXECUTE 'PREPARE a_leak AS SELECT 1';
    EXECUTE 'DECLARE a_cursor CURSOR WITH HOLD FOR SELECT 1';
    RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', jsonb_build_object('pid', pg_backend_pid()));
END"""

# What the victim reports of its session: nothing of the above may be there.
REPORTS_ITS_SESSION = """BEGIN
    RAISE EXCEPTION '%', jsonb_build_object(
        'pid', pg_backend_pid(),
        'user', current_user,
        'setting', coalesce(nullif(current_setting('mospay.leak', true), ''), 'none'),
        'timeout', current_setting('statement_timeout'),
        'application', current_setting('application_name'),
        'temp', coalesce(to_regclass('pg_temp.fx_rates')::text, 'none'),
        'rate_read', (SELECT count(*) FROM fx_rates WHERE rate = 0.0001),
        'advisory', (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()),
        'listening', (SELECT count(*) FROM pg_listening_channels()),
        'prepared', (SELECT count(*) FROM pg_prepared_statements WHERE name = 'a_leak'),
        'cursors', (SELECT count(*) FROM pg_cursors WHERE name = 'a_cursor'))::text;
END"""


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    """One connection in the function pool: every call shares one session."""
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"),
                  **{**TEST_SETTINGS, "FUNCTION_POOL_MAX": 1})


def _other(admin, base_url, service):
    client = admin.create_client()
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def _report(answer):
    import json
    return json.loads(answer.json()["error"]["message"])


def test_nothing_one_tenant_leaves_in_the_shared_session_reaches_the_next(integrator, admin, base_url, rt, db,
                                                                         downstream):
    victim = _other(admin, base_url, integrator.service)
    replace_function(rt, request_function_name(integrator), LEAVES_EVERYTHING)
    replace_function(rt, request_function_name(victim), REPORTS_ITS_SESSION)

    reports, attacker_sessions = [], []
    for _ in range(3):
        assert integrator.pay().status_code == 200
        attacker_sessions.append(downstream.received[-1]["body"]["pid"])  # the attacker tells where it ran
        reports.append(_report(victim.pay()))

    victim_role = db("SELECT function_role FROM mospay.clients WHERE app_id = %s",
                     (victim.client["app_id"],))[0]["function_role"]
    assert [report.pop("pid") for report in reports] == attacker_sessions  # the victim ran in the attacker's session
    assert reports == [{"user": victim_role, "setting": "none", "timeout": "1s", "application": "",
                        "temp": "none", "rate_read": 0, "advisory": 0, "listening": 0, "prepared": 0,
                        "cursors": 0}] * 3, reports


def test_a_tenant_cannot_reach_the_gates_or_the_runners_sessions(integrator, admin, base_url, rt, db):
    victim = _other(admin, base_url, integrator.service)
    assert victim.pay().status_code == 200
    victim_id = db("SELECT id FROM mospay.clients WHERE app_id = %s", (victim.client["app_id"],))[0]["id"]
    name = request_function_name(integrator)
    attempts = {
        "call the victim's gate": f"PERFORM mospay_gate.gate_{victim_id}('{request_function_name(victim)}', "
                                  "ARRAY[request, context]);",
        "replace its own gate": "EXECUTE 'CREATE OR REPLACE FUNCTION mospay_gate.mine() RETURNS int "
                                "LANGUAGE sql AS ''SELECT 1''';",
        "end the session's reset": "PERFORM mospay_gate.end_call('{}'::jsonb, '0');",
        "become the login": "SET SESSION AUTHORIZATION DEFAULT;",
        "become the runner by set_config": "PERFORM set_config('role', 'none', false);",
    }
    for attempt, statement in attempts.items():
        replace_function(rt, name, f"BEGIN {statement} {FORWARD} END")
        answer = integrator.pay()
        assert answer.json()["error"]["code"] == "FUNCTION_ERROR", (attempt, answer.text)

    # The runner's sessions (the attacker's own included) keep their queries from every tenant.
    replace_function(rt, name, """BEGIN
        RAISE EXCEPTION '%', (SELECT string_agg(DISTINCT coalesce(query, 'null'), '|') FROM pg_stat_activity
                              WHERE usename LIKE 'mospay\\_r\\_%');
    END""")
    assert integrator.pay().json()["error"]["message"] == "<insufficient privilege>"
    assert victim.pay().status_code == 200


def _detail(db, answer):
    return db("SELECT error_detail FROM mospay.transactions WHERE unique_id = %s",
              (answer.json()["unique_id"],))[0]["error_detail"]


def test_a_function_that_fakes_a_lost_connection_leaves_nothing_behind(integrator, admin, base_url, rt, db):
    """A function RAISEs SQLSTATE 08006 after preparing a statement and seeding random(): the switch once took that
    for a lost connection, gave the session back to the pool uncleaned, and answered DATABASE_UNAVAILABLE. Now a
    failed call's session is cleared like a successful one's (or closed when it cannot be)."""
    victim = _other(admin, base_url, integrator.service)
    replace_function(rt, request_function_name(integrator), """BEGIN
        EXECUTE 'PREPARE a_leak AS SELECT 1';
        PERFORM setseed(0.42);
        RAISE EXCEPTION 'pid=%', pg_backend_pid() USING ERRCODE = '08006';
    END""")
    replace_function(rt, request_function_name(victim), REPORTS_ITS_SESSION)

    answer = integrator.pay()

    assert answer.json()["error"]["code"] == "FUNCTION_ERROR", answer.text
    pid = int(_detail(db, answer).split("pid=")[1].split()[0])
    replace_function(rt, request_function_name(victim), """BEGIN
        RAISE EXCEPTION '%', jsonb_build_object('pid', pg_backend_pid(), 'random', random(),
            'prepared', (SELECT count(*) FROM pg_prepared_statements WHERE name = 'a_leak'))::text;
    END""")
    report = _report(victim.pay())
    seeded = db("SELECT setseed(0.42), random() AS r")[0]["r"]
    assert report["pid"] == pid  # the same session, kept: cleared, not closed
    assert report["prepared"] == 0 and report["random"] != seeded


def test_a_tenant_may_not_take_advisory_locks_or_keep_large_objects(integrator, rt, db):
    """A session advisory lock outlives the call, and the lock table is the whole cluster's: ~12,800 of them made
    new connections fail. The switch's own keys (migrations 7340001) must not be a tenant's to squat."""
    name = request_function_name(integrator)
    for statement in ("PERFORM pg_advisory_lock(7340001);", "PERFORM pg_try_advisory_xact_lock(1);",
                      "PERFORM lo_from_bytea(0, '\\x31323334'::bytea);"):
        replace_function(rt, name, f"BEGIN {statement} {FORWARD} END")
        answer = integrator.pay()
        assert answer.json()["error"]["code"] == "FUNCTION_ERROR", (statement, answer.text)
        assert "permission denied for function" in _detail(db, answer), statement
    assert db("SELECT count(*) AS n FROM pg_largeobject_metadata") == [{"n": 0}]


def test_a_tenant_cannot_choose_the_next_tenants_random_numbers(integrator, admin, base_url, rt, db):
    victim = _other(admin, base_url, integrator.service)
    replace_function(rt, request_function_name(integrator), f"BEGIN PERFORM setseed(0.42); {FORWARD} END")
    replace_function(rt, request_function_name(victim), "BEGIN RAISE EXCEPTION '%', random(); END")
    seeded = db("SELECT setseed(0.42), random() AS r")[0]["r"]  # what random() gives right after that seed

    draws = []
    for _ in range(3):
        assert integrator.pay().status_code == 200
        draws.append(float(victim.pay().json()["error"]["message"]))

    assert seeded not in draws and len(set(draws)) == 3


def test_a_tenant_may_not_create_temporary_objects(integrator, rt, db):
    """Temporary functions kept their compiled code in the shared backend after DISCARD TEMP (a reviewer grew one to
    9.7 GB in two calls), temporary buffers kept a size the function chose, and a temporary table with a deferred
    trigger runs code at the commit, after the gate returned, as the runner."""
    name = request_function_name(integrator)
    for statement in ("CREATE TEMP TABLE later (v int);",
                      "CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE sql AS 'SELECT 1';",
                      "SET temp_buffers = '1GB'; CREATE TEMP TABLE big AS SELECT 1;"):
        replace_function(rt, name, f"BEGIN {statement} {FORWARD} END")
        answer = integrator.pay()
        assert answer.json()["error"]["code"] == "FUNCTION_ERROR", (statement, answer.text)
        assert "permission denied to create temporary tables" in _detail(db, answer), statement
    assert integrator.pay().status_code == 500  # the last body stays: still refused, nothing else broke
    replace_function(rt, name, f"BEGIN {FORWARD} END")
    assert integrator.pay().status_code == 200


def test_a_cursor_left_for_the_commit_never_runs_as_the_runner(integrator, rt, db):
    """A cursor WITH HOLD is run to its end at the statement's commit, after the gate returned: as the runner, who may
    call every client's gate. The gate closes it while still the client's role."""
    name = request_function_name(integrator)
    replace_function(rt, name + "_who", "BEGIN RAISE EXCEPTION 'cursor ran as %', current_user; END",
                     args="request jsonb")
    db_owner_grant(rt, name + "_who", integrator, db)
    replace_function(rt, name, f"""BEGIN
        EXECUTE format('DECLARE later CURSOR WITH HOLD FOR SELECT mospay_fn.%I(%L::jsonb)', '{name}_who', '{{}}');
        {FORWARD}
    END""")
    held = integrator.pay()
    assert held.status_code == 200, held.text  # closed unread inside the gate: nothing ran at the commit


def db_owner_grant(rt, function, integrator, db):
    """What the switch grants a client's functions: EXECUTE to the client's role alone."""
    import psycopg
    from psycopg import sql
    role = db("SELECT function_role FROM mospay.clients WHERE app_id = %s",
              (integrator.client["app_id"],))[0]["function_role"]
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("REVOKE ALL ON FUNCTION mospay_fn.{}(jsonb) FROM PUBLIC").format(sql.Identifier(function)))
        conn.execute(sql.SQL("GRANT EXECUTE ON FUNCTION mospay_fn.{}(jsonb) TO {}").format(
            sql.Identifier(function), sql.Identifier(role)))


def test_a_function_that_deallocates_the_sessions_statements_costs_the_next_tenant_nothing(
        integrator, admin, base_url, rt, db):
    """A function may ``DEALLOCATE ALL``. Were the gate calls prepared statements, psycopg would then send the next
    tenant's call to a statement its session no longer has (tried: the victim's payment failed with a 500). They
    are not prepared, so the victim is answered as if nothing happened."""
    victim = _other(admin, base_url, integrator.service)
    for _ in range(8):  # past psycopg's prepare threshold: the victim's call is a prepared statement now
        assert victim.pay().status_code == 200
    replace_function(rt, request_function_name(integrator), f"""BEGIN
        EXECUTE 'DEALLOCATE ALL';
        {FORWARD}
    END""")

    for _ in range(3):
        assert integrator.pay().status_code == 200  # its own call ends normally
        answer = victim.pay()
        assert answer.status_code == 200, answer.text

    # A function raising that SQLSTATE itself is only failing: its call is not made twice.
    replace_function(rt, request_function_name(integrator),
                     "BEGIN PERFORM pg_notify('runs', 'x'); RAISE EXCEPTION 'gone' USING ERRCODE = '26000'; END")
    answer = integrator.pay()
    assert answer.json()["error"]["code"] == "FUNCTION_ERROR", answer.text
