"""An original MosPay installation's functions, imported and run through the mospay_legacy adapter."""

import pytest

from gateway.functions import legacy
from gateway.functions.workbench import FunctionRefused
from tests.factories import DEFAULT_FIELDS, Integrator, unique_name

LEGACY_SOURCE = '''
-- As pg_dump writes them in the original MosPay database.
CREATE OR REPLACE FUNCTION public."{fn}"(unique_id text, data_input json)
RETURNS TABLE(results json) LANGUAGE plpgsql AS $$
BEGIN
    IF (data_input ->> 'f004')::numeric > 5000 THEN
        RETURN QUERY SELECT json_build_object('action', 'ERROR', 'message', 'Amount over 5000 (100% sure)');
    ELSIF data_input ->> 'f009' = 'balance' THEN
        RETURN QUERY SELECT json_build_object('action', 'OUTPUT', 'status', 'SUCCESS', 'code', 'BALANCE',
                                              'data', json_build_object('balance', '12000'));
    ELSE
        RETURN QUERY SELECT json_build_object(
            'action', 'SERVICE', 'serviceurl', '{url}',
            'servicepayload', json_build_object('amount', data_input ->> 'f004', 'ref', unique_id,
                                                'msisdn', data_input ->> 'f006'));
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION public."RESPONSE_{fn}"(unique_id text, data_input json)
RETURNS TABLE(results json) LANGUAGE sql AS $$
    SELECT json_build_object('action', 'OUTPUT', 'status', data_input -> 'serviceresponse' ->> 'status',
                             'code', 'HTTP_' || (data_input ->> 'servicestatus'), 'message', 'from MosPay',
                             'data', json_build_object('echo', data_input -> 'serviceresponse' -> 'data' -> 'echo'))
$$;
'''


@pytest.fixture
def migrated(admin, base_url, downstream, app, tmp_path):
    """A client whose route runs functions imported from the original MosPay."""
    client = admin.create_client()
    microservice = unique_name("ms")
    fn = f"{client['app_id']}_{microservice}_payment"
    dump = tmp_path / "mospay.sql"
    dump.write_text(LEGACY_SOURCE.format(fn=fn, url=downstream.url + "/legacy"))
    imported = app.test_cli_runner().invoke(args=["functions", "import-mospay", str(dump)])
    assert imported.exit_code == 0, imported.output
    assert fn in imported.output and "imported 2 function(s)" in imported.output
    service = admin.create_service(downstream.url, microservice=microservice, template="mospay_legacy",
                                   fields=DEFAULT_FIELDS)
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def test_a_service_action_is_forwarded_and_the_output_answered(migrated, downstream):
    message = migrated.message(f004="1500")

    response = migrated.pay(message)

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["code"], body["message"]) == ("SUCCESS", "HTTP_200", "from MosPay")
    [call] = downstream.received
    assert call["path"] == "/legacy"
    assert call["body"] == {"amount": "1500", "ref": message["f010"], "msisdn": message["f006"]}
    assert body["data"]["echo"] == call["body"]


def test_an_error_action_refuses_the_payment(migrated, downstream):
    response = migrated.pay(migrated.message(f004="9000"))

    assert response.status_code == 422 and response.json()["error"]["message"] == "Amount over 5000 (100% sure)"
    assert downstream.received == []


def test_an_output_action_answers_without_a_downstream_call(migrated, downstream, db):
    response = migrated.pay(migrated.message(f009="balance"))

    assert response.status_code == 200
    assert (response.json()["code"], response.json()["data"]) == ("BALANCE", {"balance": "12000"})
    assert downstream.received == []
    assert db("SELECT status FROM mospay.transactions WHERE unique_id = %s",
              (response.json()["unique_id"],))[0]["status"] == "SUCCESS"


def test_the_imported_functions_run_in_the_sandbox(rt, app, tmp_path, admin, base_url, downstream):
    client = admin.create_client()
    microservice = unique_name("ms")
    fn = f"{client['app_id']}_{microservice}_payment"
    legacy.import_functions(rt, f'''CREATE FUNCTION "{fn}"(unique_id text, data_input json)
        RETURNS TABLE(results json) LANGUAGE plpgsql AS $$ BEGIN RETURN QUERY SELECT json_build_object(
        'action', 'OUTPUT', 'data', (SELECT json_agg(username) FROM mospay.clients)); END $$''', "test")
    service = admin.create_service(downstream.url, microservice=microservice, template="mospay_legacy",
                                   fields=DEFAULT_FIELDS)
    admin.assign(client, service)

    response = Integrator(base_url, client, service).pay()

    assert response.status_code == 500 and response.json()["error"]["code"] == "FUNCTION_ERROR"


def test_a_file_is_imported_as_the_function_owner_who_cannot_see_the_switch(rt):
    # A SQL-language body is checked at creation, with the creator's rights: the function owner has none here.
    with pytest.raises(FunctionRefused) as refused:
        legacy.import_functions(rt, f'''CREATE FUNCTION "{unique_name("peek")}"(unique_id text, data_input json)
            RETURNS TABLE(results json) LANGUAGE sql AS $$ SELECT json_agg(password_hash) FROM mospay.users $$''',
                                "attacker")

    assert "permission denied for schema mospay" in refused.value.message


@pytest.mark.parametrize("statement", ["RESET ROLE", "SET ROLE postgres", "SET SESSION AUTHORIZATION postgres",
                                       "DO $$ BEGIN EXECUTE 'RESET ROLE'; END $$",
                                       "SELECT set_config('role', 'none', false)"])
def test_a_file_cannot_step_back_to_the_switchs_role(rt, db, statement):
    users = db("SELECT count(*) AS n FROM mospay.users")
    source = f"{statement};\nDELETE FROM mospay.users;"

    with pytest.raises(FunctionRefused):
        legacy.import_functions(rt, source, "attacker")

    assert db("SELECT count(*) AS n FROM mospay.users") == users


def test_imported_functions_are_not_executable_by_the_switch_or_public(rt, db):
    name = unique_name("priv")
    legacy.import_functions(rt, f'''CREATE FUNCTION "{name}"(unique_id text, data_input json)
        RETURNS TABLE(results json) LANGUAGE sql AS $$ SELECT '{{}}'::json $$''', "test")

    [row] = db("SELECT has_function_privilege('public', p.oid, 'EXECUTE') AS public_may, "
               "has_function_privilege(current_user, p.oid, 'EXECUTE') AS switch_may, "
               "pg_get_userbyid(p.proowner) AS owner FROM pg_proc p WHERE p.proname = %s", (name,))
    assert row == {"public_may": False, "switch_may": False, "owner": "mospay_fn_owner"}


@pytest.mark.parametrize("source, problem", [
    ('CREATE FUNCTION mospay.x(unique_id text, data_input json) RETURNS TABLE(results json) LANGUAGE sql '
     "AS $$ SELECT '{}'::json $$", "schema 'mospay'"),
    ('CREATE FUNCTION "sd_{n}"(unique_id text, data_input json) RETURNS TABLE(results json) LANGUAGE sql '
     "SECURITY DEFINER AS $$ SELECT '{}'::json $$", "SECURITY DEFINER"),
    ('CREATE FUNCTION "ok_{n}"(unique_id text, data_input json) RETURNS TABLE(results json) LANGUAGE sql '
     "AS $$ SELECT '{}'::json $$; CREATE FUNCTION broken( AS", "PostgreSQL refused"),
])
def test_a_bad_file_is_refused_and_nothing_is_imported(rt, db, source, problem):
    name = unique_name("f")
    before = db("SELECT count(*) AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace "
                "WHERE s.nspname IN ('mospay_legacy', 'mospay', 'public')")

    with pytest.raises(FunctionRefused) as refused:
        legacy.import_functions(rt, source.replace("{n}", name), "test")

    assert problem in refused.value.message
    assert db("SELECT count(*) AS n FROM pg_proc p JOIN pg_namespace s ON s.oid = p.pronamespace "
              "WHERE s.nspname IN ('mospay_legacy', 'mospay', 'public')") == before


def test_public_names_move_to_the_legacy_schema():
    assert legacy.prepare('CREATE OR REPLACE FUNCTION public."RESPONSE_a"(x text)') == \
        'CREATE OR REPLACE FUNCTION mospay_legacy."RESPONSE_a"(x text)'
    assert legacy.prepare("create function a(x text)") == "create function a(x text)"
