"""Attack: one tenant's function reaching another tenant through the database (issue 11 point 2).

Before, every client's functions ran as one shared role, ``mospay_sandbox``: a function calling
``pg_terminate_backend`` / ``pg_cancel_backend`` over that role's backends failed 240 of 244 (219 of 223)
of another tenant's payments, and temp tables and ``set_config`` settings survived on pooled connections
into the next tenant's call. Now each client app runs as its own role, through its own SECURITY DEFINER gate,
on one pool that logs in as the function runner (migration 0074): inside a gate PostgreSQL refuses any change
of role, the runner's backends are out of every tenant's reach, and what a call leaves in the session is cleared
before the next call.
"""

import concurrent.futures

from tests.factories import Integrator, replace_function, request_function_name

FORWARD = "RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);"

# Signal every other execution role's backend it can see; count the ones PostgreSQL let it signal.
SIGNALS_EVERYONE = """DECLARE
    target record;
    seen integer := 0;
    hit integer := 0;
BEGIN
    FOR target IN SELECT pid FROM pg_stat_activity
                  WHERE (usename LIKE 'mospay\\_t\\_%' OR usename LIKE 'mospay\\_r\\_%' OR usename = 'mospay_sandbox')
                    AND usename <> current_user AND pid <> pg_backend_pid() LOOP
        seen := seen + 1;
        BEGIN
            IF pg_cancel_backend(target.pid) THEN hit := hit + 1; END IF;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
        BEGIN
            IF pg_terminate_backend(target.pid) THEN hit := hit + 1; END IF;
        EXCEPTION WHEN insufficient_privilege THEN NULL;
        END;
    END LOOP;
    RAISE EXCEPTION 'seen % signalled %', seen, hit;
END"""


def _other(admin, base_url, service):
    client = admin.create_client()
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def _role(db, integrator):
    return db("SELECT function_role FROM mospay.clients WHERE app_id = %s", (integrator.client["app_id"],))[0][
        "function_role"]


def test_each_client_runs_as_a_role_of_its_own_that_cannot_log_in_and_is_a_member_of_nothing(integrator, admin,
                                                                                            base_url, db):
    other = _other(admin, base_url, integrator.service)
    roles = [_role(db, integrator), _role(db, other)]

    assert roles[0] != roles[1] and all(role.startswith("mospay_t_") for role in roles)
    for role in roles:
        row = db("SELECT rolcanlogin, rolinherit, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, "
                 "(SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) AS memberships, "
                 "(SELECT count(*) FROM pg_auth_members m WHERE m.roleid = r.oid "
                 "   AND m.member <> (SELECT datdba FROM pg_database WHERE datname = current_database())) AS members "
                 "FROM pg_roles r WHERE rolname = %s", (role,))[0]
        assert row == {"rolcanlogin": False, "rolinherit": False, "rolsuper": False, "rolcreaterole": False,
                       "rolcreatedb": False, "rolbypassrls": False, "memberships": 0, "members": 0}
    assert integrator.pay().status_code == 200 and other.pay().status_code == 200


def test_the_function_runner_may_only_call_the_gates(integrator, db):
    """The one login client functions' pool uses: a member of nothing, owning nothing, USAGE on mospay_gate only."""
    assert integrator.pay().status_code == 200
    (runner,) = db("SELECT r.rolname, r.rolcanlogin, r.rolinherit, r.rolsuper, r.rolcreaterole, r.rolcreatedb, "
                   "r.rolbypassrls, (SELECT count(*) FROM pg_auth_members m WHERE m.member = r.oid) AS memberships "
                   "FROM mospay.function_runner f JOIN pg_roles r ON r.rolname = f.role")
    name = runner.pop("rolname")
    assert runner == {"rolcanlogin": True, "rolinherit": False, "rolsuper": False, "rolcreaterole": False,
                      "rolcreatedb": False, "rolbypassrls": False, "memberships": 0}
    reach = db("SELECT n.nspname AS schema, has_schema_privilege(%(r)s, n.oid, 'USAGE') AS usage, "
               "has_schema_privilege(%(r)s, n.oid, 'CREATE') AS create FROM pg_namespace n "
               "WHERE n.nspname IN ('mospay', 'mospay_fn', 'mospay_legacy', 'mospay_gate') ORDER BY 1",
               {"r": name})
    assert reach == [{"schema": "mospay", "usage": False, "create": False},
                     {"schema": "mospay_fn", "usage": False, "create": False},
                     {"schema": "mospay_gate", "usage": True, "create": False},
                     {"schema": "mospay_legacy", "usage": False, "create": False}]
    owned = db("SELECT count(*) AS n FROM pg_class WHERE relowner = %(r)s::regrole", {"r": name})
    assert owned == [{"n": 0}]
    gates = db("SELECT p.proname, p.prosecdef, pg_get_userbyid(p.proowner) AS owner, "
               "has_function_privilege(%(r)s, p.oid, 'EXECUTE') AS runner_may, "
               "has_function_privilege(%(t)s, p.oid, 'EXECUTE') AS tenant_may "
               "FROM pg_proc p WHERE p.pronamespace = 'mospay_gate'::regnamespace AND p.proname LIKE 'gate%%'",
               {"r": name, "t": _role(db, integrator)})
    mine = next(g for g in gates if g["owner"] == _role(db, integrator))
    assert mine["prosecdef"] and mine["runner_may"]
    assert all(not g["tenant_may"] or g is mine for g in gates)  # a tenant may call no other tenant's gate


def test_a_tenant_signalling_every_backend_cannot_stop_another_tenants_payments(integrator, admin, base_url, rt):
    victim = _other(admin, base_url, integrator.service)
    assert victim.pay().status_code == 200  # the victim's pool now has a connection to aim at
    replace_function(rt, request_function_name(integrator), SIGNALS_EVERYONE)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        attacks = [pool.submit(integrator.pay, timeout=30) for _ in range(40)]
        honest = list(pool.map(lambda _: victim.pay(timeout=30), range(40)))
        attacks = [f.result() for f in attacks]

    assert [r.status_code for r in honest] == [200] * 40, [r.text for r in honest if r.status_code != 200]
    messages = [r.json()["error"]["message"] for r in attacks]
    assert all(m.endswith("signalled 0") for m in messages), messages
    assert any(not m.startswith("seen 0 ") for m in messages), "the attack saw the victim's backends"


def test_a_tenant_cannot_call_another_tenants_function_or_become_its_role(integrator, admin, base_url, rt, db,
                                                                           downstream):
    victim = _other(admin, base_url, integrator.service)
    name = request_function_name(integrator)
    replace_function(rt, name, f'BEGIN RETURN mospay_fn."{request_function_name(victim)}"(request, context); END')

    calling = integrator.pay()

    assert calling.json()["error"]["code"] == "FUNCTION_ERROR"
    detail = db("SELECT error_detail FROM mospay.transactions WHERE unique_id = %s", (calling.json()["unique_id"],))
    assert "permission denied for function" in detail[0]["error_detail"]

    for statement in (f"SET ROLE {_role(db, victim)}", "SET ROLE mospay_sandbox", "RESET ROLE; SET ROLE postgres"):
        replace_function(rt, name, f"BEGIN {statement}; {FORWARD} END")
        becoming = integrator.pay()
        assert becoming.json()["error"]["code"] == "FUNCTION_ERROR", (statement, becoming.text)
        detail = db("SELECT error_detail FROM mospay.transactions WHERE unique_id = %s",
                    (becoming.json()["unique_id"],))
        assert 'cannot set parameter "role" within security-definer function' in detail[0]["error_detail"], statement
    assert downstream.received == []
    assert victim.pay().status_code == 200


def test_session_state_left_by_one_tenant_never_reaches_another(integrator, admin, base_url, rt):
    victim = _other(admin, base_url, integrator.service)
    replace_function(rt, request_function_name(integrator), f"""BEGIN
        PERFORM set_config('mospay.leak', 'A-secret', false);
        {FORWARD}
    END""")
    replace_function(rt, request_function_name(victim), """BEGIN
        RAISE EXCEPTION 'table=% setting=%', coalesce(to_regclass('pg_temp.leak')::text, 'none'),
            coalesce(nullif(current_setting('mospay.leak', true), ''), 'none');
    END""")

    seen = []
    for _ in range(10):
        assert integrator.pay().status_code == 200
        seen.append(victim.pay().json()["error"]["message"])

    assert seen == ["table=none setting=none"] * 10


def test_the_rates_table_s_grants_do_not_grow_with_each_client(integrator, db, rt):
    # A table's grants live in its pg_class row, which cannot grow past 8 kB: one grant per client stopped
    # onboarding at about 2,400 clients. The rates are read through USAGE on mospay_fn (per role, in pg_namespace,
    # which can grow) and a single grant to PUBLIC.
    per_client = db("SELECT count(*) AS n FROM pg_class c, aclexplode(c.relacl) a "
                    "WHERE c.oid = 'mospay_fn.fx_rates'::regclass AND a.grantee::regrole::text LIKE 'mospay_t%%'")
    assert per_client == [{"n": 0}]
    replace_function(rt, request_function_name(integrator), """BEGIN
        RETURN jsonb_build_object('reject', jsonb_build_object('code', 'RATE', 'message',
            (SELECT rate::text FROM fx_rates WHERE base = 'USD' AND quote = 'RWF')));
    END""")

    answer = integrator.pay()  # the client's own function still reads the rates, as its own role

    assert answer.status_code == 422 and answer.json()["error"]["message"][0].isdigit(), answer.text
