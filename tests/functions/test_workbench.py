"""The DBA workbench through the admin API: edit, refuse, drift, test-run, roll back, regenerate."""

import psycopg
import pytest

from tests.factories import Admin, user_token

REQUEST_SOURCE = """CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb, context jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $function$
BEGIN
    RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'body',
                              jsonb_build_object('edited', true, 'amount', request ->> 'f004'));
END
$function$"""


@pytest.fixture
def fn(integrator):
    """The integrator's request function name."""
    return f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"


def test_a_good_edit_becomes_version_2_and_takes_effect(admin, integrator, downstream, fn):
    saved = admin.put(f"/functions/{fn}", {"source": REQUEST_SOURCE.format(name=fn), "note": "edited body"})

    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert integrator.pay(integrator.message(f004="42")).status_code == 200
    assert downstream.received[-1]["body"] == {"edited": True, "amount": "42"}
    versions = admin.get(f"/functions/{fn}/versions").json()["versions"]
    assert [v["version"] for v in versions] == [2, 1] and versions[0]["note"] == "edited body"
    diff = admin.get(f"/functions/{fn}/diff?from=1&to=2").json()["diff"]
    assert "+                              jsonb_build_object('edited', true" in diff


@pytest.mark.parametrize("source, expected", [
    ("CREATE OR REPLACE FUNCTION mospay_fn.\"{name}\"(request jsonb, context jsonb) RETURNS jsonb "
     "LANGUAGE plpgsql AS $f$\nBEGIN\n  RETURN jsonb_build_object('a', 1)\nEND $f$", "syntax error"),
    ("CREATE OR REPLACE FUNCTION mospay_fn.\"{name}\"(request jsonb) RETURNS jsonb "
     "LANGUAGE sql AS $f$ SELECT request $f$", "must keep the signature"),
    ("CREATE OR REPLACE FUNCTION mospay_fn.\"{name}\"(request jsonb, context jsonb) RETURNS jsonb "
     "LANGUAGE sql SECURITY DEFINER AS $f$ SELECT request $f$", "SECURITY DEFINER"),
    ("CREATE OR REPLACE FUNCTION mospay_fn.\"{name}\"(request jsonb, context jsonb) RETURNS jsonb "
     "LANGUAGE sql AS $f$ SELECT request $f$; DROP TABLE mospay.clients", "exactly one statement"),
    ("CREATE OR REPLACE FUNCTION mospay_fn.\"other_{name}\"(request jsonb, context jsonb) RETURNS jsonb "
     "LANGUAGE sql AS $f$ SELECT request $f$", "must create"),
])
def test_a_broken_edit_is_refused_and_the_live_function_untouched(admin, integrator, downstream, fn, source,
                                                                  expected):
    refused = admin.put(f"/functions/{fn}", {"source": source.format(name=fn)})

    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "FUNCTION_REFUSED" and expected in refused.json()["error"]["message"]
    assert [v["version"] for v in admin.get(f"/functions/{fn}/versions").json()["versions"]] == [1]
    assert integrator.pay().status_code == 200
    assert "f000" in downstream.received[-1]["body"]  # still the generated function


def test_a_syntax_error_names_its_line(admin, fn):
    source = (f"CREATE OR REPLACE FUNCTION mospay_fn.\"{fn}\"(request jsonb, context jsonb) RETURNS jsonb\n"
              "LANGUAGE plpgsql AS $f$\nBEGIN\n  RETURN '{}'::jsonb;\n  ELSE;\nEND $f$")
    refused = admin.put(f"/functions/{fn}", {"source": source}).json()["error"]
    assert "syntax error" in refused["message"]
    assert refused["details"]["line"] == 5


@pytest.mark.parametrize("source", ["DROP TABLE mospay.clients", "ALTER ROLE mospay_sandbox SUPERUSER", "", None])
def test_only_a_create_function_statement_is_accepted(admin, fn, db, source):
    response = admin.put(f"/functions/{fn}", {"source": source})
    assert response.status_code == 400 and "source" in response.json()["error"]["details"]
    assert db("SELECT count(*) AS n FROM mospay.clients")[0]["n"] > 0


def test_an_edit_made_in_psql_shows_as_drift_and_can_be_recorded(admin, rt, fn):
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(REQUEST_SOURCE.format(name=fn))

    listed = {f["name"]: f for f in admin.get("/functions").json()["functions"]}
    assert listed[fn]["drift"] == "drifted" and listed[f"RESPONSE_{fn}"]["drift"] == "in_step"
    assert admin.get(f"/functions/{fn}").json()["drift"] == "drifted"
    recorded = admin.post(f"/functions/{fn}/record-drift").json()
    assert recorded == {"name": fn, "version": 2, "recorded": True}
    assert admin.get(f"/functions/{fn}").json()["drift"] == "in_step"


def test_rollback_restores_an_earlier_version(admin, integrator, downstream, fn):
    admin.put(f"/functions/{fn}", {"source": REQUEST_SOURCE.format(name=fn)})

    rolled = admin.post(f"/functions/{fn}/rollback", {"version": 1})

    assert rolled.json()["version"] == 3
    integrator.pay()
    assert "f000" in downstream.received[-1]["body"]
    assert admin.post(f"/functions/{fn}/rollback", {"version": 99}).status_code == 404


def test_regenerating_a_customised_function_asks_first(admin, fn):
    admin.put(f"/functions/{fn}", {"source": REQUEST_SOURCE.format(name=fn)})

    asked = admin.post(f"/functions/{fn}/regenerate")
    assert asked.status_code == 409 and asked.json()["error"]["code"] == "FUNCTION_CUSTOMISED"
    forced = admin.post(f"/functions/{fn}/regenerate", {"force": True})
    assert forced.status_code == 200 and forced.json()["version"] == 3


def test_a_test_run_forwards_nothing_and_records_nothing(admin, integrator, downstream, db, fn):
    before = db("SELECT count(*) AS n FROM mospay.transactions")[0]["n"]
    message = integrator.message()

    request_run = admin.post(f"/functions/{fn}/test", {"request": message}).json()
    response_run = admin.post(f"/functions/RESPONSE_{fn}/test", {
        "request": message, "response": {"status_code": 200, "body": {"status": "FAILED", "code": "NSF"}}}).json()

    assert request_run["ok"] and request_run["result"]["url"] == integrator.service["url"]
    assert request_run["result"]["body"]["f010"] == message["f010"]
    assert response_run == {"ok": True, "problem": None, "result": {
        "status": "FAILED", "code": "NSF", "message": "", "data": {}}}
    assert downstream.received == []
    assert db("SELECT count(*) AS n FROM mospay.transactions")[0]["n"] == before


def test_a_viewer_reads_but_cannot_change_functions(admin, base_url, fn):
    viewer = Admin(base_url, user_token(base_url, admin, "viewer"))
    dba = Admin(base_url, user_token(base_url, admin, "dba"))

    assert viewer.get(f"/functions/{fn}").status_code == 200
    assert viewer.put(f"/functions/{fn}", {"source": REQUEST_SOURCE.format(name=fn)}).status_code == 403
    assert viewer.post(f"/functions/{fn}/rollback", {"version": 1}).status_code == 403
    assert viewer.post("/clients", {"name": "x"}).status_code == 403
    assert dba.put(f"/functions/{fn}", {"source": REQUEST_SOURCE.format(name=fn)}).status_code == 200
    assert dba.post("/clients", {"name": "x"}).status_code == 403


def test_unknown_functions_are_404(admin):
    assert admin.get("/functions/nope").status_code == 404
    assert admin.put("/functions/nope", {"source": "CREATE FUNCTION x() RETURNS int AS 'select 1' LANGUAGE sql"}
                     ).status_code == 404
