"""Second hostile review (temporary; to be deleted)."""

import json
import time

import pytest

from config import Config
from gateway.hot_path import registry as registry_module
from tests.conftest import TEST_SETTINGS
from tests.factories import Integrator, replace_function, request_function_name

FORWARD = "RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);"


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"),
                  **{**TEST_SETTINGS, "FUNCTION_POOL_MAX": 1})


def _other(admin, base_url, service):
    client = admin.create_client()
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def _detail(db, answer):
    return db("SELECT error_detail FROM mospay.transactions WHERE unique_id = %s",
              (answer.json()["unique_id"],))[0]["error_detail"]


def test_a_notification_whose_sender_is_gone_reloads_every_instance(integrator, rt, monkeypatch):
    reloads = []
    original = registry_module.Registry.reload
    monkeypatch.setattr(registry_module.Registry, "reload", lambda self: (reloads.append(1), original(self)))
    rt.registry.start_listening(3600)
    name = request_function_name(integrator)
    try:
        time.sleep(1.5)
        caught_up = len(reloads)
        # 1) many distinct notifications, committed by a successful call
        replace_function(rt, name, "BEGIN PERFORM pg_notify('mospay_registry', i || repeat('r', 7000)) "
                                   f"FROM generate_series(1, 3000) i; {FORWARD} END")
        assert integrator.pay().status_code == 200
        # 2) the next call fails: the switch closes that (same, pool of one) session itself
        replace_function(rt, name, "BEGIN RAISE EXCEPTION 'bye'; END")
        assert integrator.pay().json()["error"]["code"] == "FUNCTION_RAISED"
        time.sleep(6)
        spoofed = len(reloads) - caught_up
    finally:
        rt.registry.stop()
    print("REVIEW2 reloads caused by one tenant call:", spoofed)
    assert spoofed > 1, spoofed


def _rss(pid):
    with open(f"/proc/{pid}/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))


def test_temp_buffers_chosen_by_one_tenant_stay_with_the_shared_session(integrator, admin, base_url, rt, db,
                                                                        downstream):
    victim = _other(admin, base_url, integrator.service)
    replace_function(rt, request_function_name(integrator), f"""BEGIN
        SET temp_buffers = '4GB';
        CREATE TEMP TABLE big AS SELECT repeat('x', 1000) AS s FROM generate_series(1, 120000);
        RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'body', jsonb_build_object('pid', pg_backend_pid()));
    END""")
    replace_function(rt, request_function_name(victim), """DECLARE err text := 'none';
    BEGIN
        BEGIN
            SET temp_buffers = '16MB';
        EXCEPTION WHEN OTHERS THEN
            err := SQLERRM;
        END;
        RETURN jsonb_build_object('url', context #>> '{service,url}', 'body',
                                  jsonb_build_object('pid', pg_backend_pid(), 'err', err));
    END""")
    assert victim.pay().status_code == 200
    fresh = downstream.received[-1]["body"]  # a fresh session: the victim may set it
    fresh_rss = _rss(fresh["pid"])
    assert integrator.pay().status_code == 200, "attacker"
    assert victim.pay().status_code == 200
    report = downstream.received[-1]["body"]
    rss = _rss(report["pid"])
    print("REVIEW2 fresh:", fresh, fresh_rss, "after attacker:", report, "victim backend RSS kB:", rss)
    assert fresh["err"] == "none"
    assert "invalid value" in report["err"] and rss > 100_000


def test_a_trigger_fired_by_the_gates_set_constraints_defers_again(integrator, admin, base_url, rt, db):
    name = request_function_name(integrator)
    replace_function(rt, name, f"""BEGIN
        CREATE FUNCTION pg_temp.who() RETURNS trigger LANGUAGE plpgsql AS $w$
        BEGIN
            IF NEW.v = 1 THEN
                SET CONSTRAINTS ALL DEFERRED;
                INSERT INTO later VALUES (2);
            ELSE
                RAISE EXCEPTION 'trigger ran as %', current_user;
            END IF;
            RETURN NULL;
        END $w$;
        CREATE TEMP TABLE later (v int);
        CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON later DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW EXECUTE FUNCTION pg_temp.who();
        INSERT INTO later VALUES (1);
        {FORWARD}
    END""")
    answer = integrator.pay()
    print("REVIEW2 re-deferred:", answer.json(), _detail(db, answer))
    assert answer.json()["error"]["code"] == "FUNCTION_ERROR"
    assert "pending trigger events" in _detail(db, answer)


def test_schemas_a_tenant_may_create_in(integrator, db):
    role = db("SELECT function_role FROM mospay.clients WHERE app_id = %s",
              (integrator.client["app_id"],))[0]["function_role"]
    rows = db("SELECT nspname FROM pg_namespace WHERE has_schema_privilege(%s, oid, 'CREATE') "
              "AND nspname NOT LIKE 'pg\\_temp\\_%%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%%'", (role,))
    tables = db("SELECT c.oid::regclass::text AS t FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind IN ('r','p') AND n.nspname NOT IN ('pg_catalog','information_schema') "
                "AND (has_table_privilege(%s, c.oid, 'TRIGGER') OR has_table_privilege(%s, c.oid, 'INSERT'))",
                (role, role))
    print("REVIEW2 create-in:", rows, "trigger/insert on:", tables)


def test_a_tenants_notification_flood_delays_the_switchs_own_reload(integrator, rt, monkeypatch):
    reloads = []
    original = registry_module.Registry.reload
    monkeypatch.setattr(registry_module.Registry, "reload", lambda self: (reloads.append(time.monotonic()),
                                                                          original(self)))
    from gateway.db import Q
    def waiting(self, conn, reload_seconds):
        while not self._stop.is_set():
            senders = [notify.pid for notify in conn.notifies(timeout=1.0, stop_after=1)]
            verdicts = [(pid, conn.execute(Q.notify_from_tenant, (pid,)).fetchone()[0]) for pid in set(senders)]
            if senders:
                print("REVIEW2 batch", len(senders), verdicts, time.monotonic())
            if any(not v for _, v in verdicts):
                self.reload()
    rt.registry.start_listening(3600)
    name = request_function_name(integrator)
    try:
        time.sleep(1.5)
        caught_up = len(reloads)
        replace_function(rt, name, "BEGIN PERFORM pg_notify('mospay_registry', i::text) "
                                   f"FROM generate_series(1, 60000) i; {FORWARD} END")
        started = time.monotonic()
        assert integrator.pay().status_code == 200
        call_took = time.monotonic() - started
        time.sleep(0.5)
        before = len(reloads)
        print("REVIEW2 reloads by then", before - caught_up)
        caught_up = before
        with rt.db.connection() as conn:  # the switch's own announcement (an admin deactivated a client)
            conn.execute("SELECT pg_notify('mospay_registry', 'clients')")
        announced = time.monotonic()
        deadline = announced + 120
        while len(reloads) == caught_up and time.monotonic() < deadline:
            time.sleep(0.2)
        delay = (reloads[caught_up] - announced) if len(reloads) > caught_up else None
    finally:
        rt.registry.stop()
    print(f"REVIEW2 tenant call took {call_took:.2f}s; the switch's own reload came after {delay}s")
    assert delay is None or delay > 5


def test_a_tenant_can_kill_its_session_for_real_and_pass_for_a_database_outage(integrator, rt, db):
    name = request_function_name(integrator)
    replace_function(rt, name, f"""BEGIN
        SET temp_buffers = 1073741823;
        CREATE TEMP TABLE t AS SELECT 1 AS v;
        {FORWARD}
    END""")
    answer = integrator.pay()
    print("REVIEW2 FATAL:", answer.status_code, answer.json())
    replace_function(rt, name, f"BEGIN {FORWARD} END")
    assert integrator.pay().status_code == 200
    assert answer.json()["error"]["code"] == "DATABASE_UNAVAILABLE"


def test_a_tenant_drops_its_own_gate_and_alters_its_role(integrator, rt, db):
    role = db("SELECT function_role FROM mospay.clients WHERE app_id = %s",
              (integrator.client["app_id"],))[0]["function_role"]
    name = request_function_name(integrator)
    replace_function(rt, name, f"BEGIN ALTER ROLE CURRENT_USER SET work_mem = '2GB'; {FORWARD} END")
    print("REVIEW2 alter role:", integrator.pay().status_code,
          db("SELECT rolconfig FROM pg_roles WHERE rolname = %s", (role,)))
    replace_function(rt, name, f"BEGIN DROP OWNED BY CURRENT_USER; {FORWARD} END")
    first = integrator.pay()
    second = integrator.pay()
    print("REVIEW2 drop owned:", first.status_code, first.json().get("error"), second.status_code,
          second.json().get("error"), db("SELECT count(*) AS n FROM pg_proc WHERE proname LIKE 'gate\\_%%' "
                                         "AND proowner = %s::regrole", (role,)))
