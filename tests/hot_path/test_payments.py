"""End to end through real HTTP: onboard, pay, and every way a payment can end."""

import concurrent.futures
import socket
import threading

import psycopg
import pytest
import requests

from tests.factories import Integrator, replace_function


def transaction(db, integrator, unique_id):
    rows = db("SELECT t.* FROM mospay.transactions t JOIN mospay.clients c ON c.id = t.client_id "
              "WHERE c.app_id = %s AND t.unique_id = %s", (integrator.client["app_id"], unique_id))
    return rows[0] if rows else None


def test_a_payment_goes_through_both_functions_and_is_recorded(integrator, downstream, db):
    message = integrator.message(f007="1234", f009="school fees")
    response = integrator.pay(message)

    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["status"] == "SUCCESS" and answer["code"] == "OK"
    assert answer["unique_id"] == message["f010"] and answer["transaction_ref"]
    assert "claim" in response.headers["Server-Timing"]
    # The downstream got exactly what the generic request function emits: the message without secrets.
    (call,) = downstream.received
    assert call["path"] == "/pay" and call["method"] == "POST"
    assert call["body"] == {k: v for k, v in message.items() if k != "f007"}
    assert call["headers"]["X-Transaction-Ref"] == answer["transaction_ref"]
    # The client got what the response function made of the downstream's answer.
    assert answer["data"] == {"echo": call["body"]}
    row = transaction(db, integrator, message["f010"])
    assert row["status"] == "SUCCESS" and row["http_status"] == 200 and row["downstream_status"] == 200
    assert row["request"]["f007"] == "****" and row["answer"] == answer
    logs = db("SELECT * FROM mospay.api_logs WHERE transaction_id = %s", (row["id"],))
    assert [log["http_status"] for log in logs] == [200]


def test_the_stored_stage_timings_add_up_to_the_total(integrator, db):
    """Every stage is timed from the request's arrival (authentication included), so a timeline adds up."""
    body = integrator.pay().json()

    timings = transaction(db, integrator, body["unique_id"])["timings"]
    stages = [ms for stage, ms in timings.items() if stage != "total"]
    assert {"auth", "validate", "claim", "request_function", "forward", "response_function"} <= set(timings)
    # Each figure is rounded to a microsecond: the stages meet the total within that rounding.
    assert abs(timings["total"] - sum(stages)) < 0.01, timings


def test_the_status_endpoint_returns_the_stored_answer(integrator):
    message = integrator.message()
    paid = integrator.pay(message).json()

    status = requests.get(f"{integrator.base_url}/api/v1/payment/status/{message['f010']}",
                          auth=integrator.auth, headers=integrator.headers)

    assert status.status_code == 200
    assert status.json()["status"] == "SUCCESS" and status.json()["answer"] == paid
    missing = requests.get(f"{integrator.base_url}/api/v1/payment/status/nope",
                           auth=integrator.auth, headers=integrator.headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "TRANSACTION_NOT_FOUND"


def test_fifty_concurrent_duplicates_forward_once(integrator, downstream, db):
    downstream.behaviour = lambda path, headers, body: (200, {"status": "SUCCESS", "code": "OK"}, 0.3)
    message = integrator.message()
    start = threading.Barrier(50)

    def pay():
        start.wait()
        return integrator.pay(message)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: pay(), range(50)))

    assert len(downstream.received) == 1
    codes = sorted(r.status_code for r in responses)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}
    in_flight = [r for r in responses if r.status_code == 409]
    assert all(r.json()["error"]["code"] == "IN_PROGRESS" and r.headers["Retry-After"] for r in in_flight)
    # Finished: the same payload replays the stored answer, flagged as a replay.
    replay = integrator.pay(message)
    original = next(r for r in responses if r.status_code == 200 and "Idempotent-Replayed" not in r.headers)
    assert replay.status_code == 200 and replay.json() == original.json()
    assert replay.headers["Idempotent-Replayed"] == "true"
    # Key order does not make a payload different.
    reordered = dict(reversed(list(message.items())))
    assert integrator.pay(reordered).headers.get("Idempotent-Replayed") == "true"
    # A different payload under the same unique id is refused.
    modified = integrator.pay({**message, "f004": "9999"})
    assert modified.status_code == 409 and modified.json()["error"]["code"] == "MODIFIED_REQUEST"
    assert len(downstream.received) == 1
    assert db("SELECT count(*) AS n FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]["n"] == 1
    # Every answer of the payment endpoint says where its time went: replays and 409s too.
    assert all("total;dur=" in r.headers["Server-Timing"] for r in [*responses, replay, modified])


def test_a_refused_message_is_timed_and_names_no_transaction(integrator):
    """A validation error happens before any payment exists: no transaction_ref, but a Server-Timing."""
    response = integrator.pay(integrator.message(f004="-5"))

    assert response.status_code == 400 and "transaction_ref" not in response.json()
    assert response.headers["Server-Timing"].startswith("auth;dur=")


def test_a_downstream_timeout_is_unknown_never_failed(admin, base_url, downstream, db):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/slow", timeout_ms=300)
    admin.assign(client, service)
    integrator = Integrator(base_url, client, service)
    downstream.behaviour = lambda path, headers, body: (200, {"status": "SUCCESS"}, 1.5)

    response = integrator.pay()

    assert response.status_code == 504
    body = response.json()
    assert body["status"] == "UNKNOWN" and body["error"]["code"] == "UPSTREAM_TIMEOUT"
    # The switch says what happened, not the template's "could not be reached": the call may have arrived.
    assert "did not answer in time" in body["error"]["message"]
    row = transaction(db, integrator, body["unique_id"])
    assert row["status"] == "UNKNOWN" and row["error_code"] == "UPSTREAM_TIMEOUT"


def test_a_refused_connection_fails_cleanly(admin, base_url, db):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    client = admin.create_client()
    service = admin.create_service(f"http://127.0.0.1:{closed_port}/pay")
    admin.assign(client, service)
    integrator = Integrator(base_url, client, service)

    response = integrator.pay()

    assert response.status_code == 502
    assert response.json()["status"] == "FAILED"
    assert response.json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"
    assert transaction(db, integrator, response.json()["unique_id"])["status"] == "FAILED"


def test_a_function_that_raises_gives_a_clean_error_and_forwards_nothing(integrator, downstream, rt, db):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN RAISE EXCEPTION 'daily limit reached for %', request->>'f006'; END")

    response = integrator.pay()

    assert response.status_code == 400
    body = response.json()
    assert body["error"] == {"code": "FUNCTION_RAISED", "message": "daily limit reached for 250788123456"}
    assert body["status"] == "FAILED" and "Traceback" not in response.text
    assert downstream.received == []
    row = transaction(db, integrator, body["unique_id"])
    assert row["status"] == "FAILED" and "P0001" in row["error_detail"]


def test_a_broken_function_hides_its_sql_error_from_the_client(integrator, downstream, rt, db):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN RETURN jsonb_build_object('url', 1 / 0); END")

    response = integrator.pay()

    assert response.status_code == 500
    assert response.json()["error"]["code"] == "FUNCTION_ERROR"
    assert "division" not in response.text
    assert "division by zero" in transaction(db, integrator, response.json()["unique_id"])["error_detail"]
    assert downstream.received == []


def test_a_request_function_may_reject_without_forwarding(integrator, downstream, rt):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, """BEGIN
        IF (request->>'f004')::numeric > 1000 THEN
            RETURN jsonb_build_object('reject', jsonb_build_object('code', 'LIMIT', 'message', 'Over the limit'));
        END IF;
        RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);
    END""")

    rejected = integrator.pay(integrator.message(f004="5000"))
    accepted = integrator.pay(integrator.message(f004="10"))

    assert rejected.status_code == 422
    assert rejected.json()["status"] == "REJECTED" and rejected.json()["error"]["details"] == {"reason": "LIMIT"}
    assert accepted.status_code == 200 and len(downstream.received) == 1


def test_a_response_function_failure_after_forwarding_is_unknown(integrator, downstream, rt, db):
    name = f"RESPONSE_{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN RAISE EXCEPTION 'cannot read this'; END",
                     args="request jsonb, response jsonb, context jsonb")

    response = integrator.pay()

    assert response.status_code == 500 and response.json()["status"] == "UNKNOWN"
    assert len(downstream.received) == 1  # it went out: money may have moved
    assert transaction(db, integrator, response.json()["unique_id"])["status"] == "UNKNOWN"


def test_functions_run_sandboxed_away_from_the_switch_tables(integrator, downstream, rt, db):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN RETURN (SELECT to_jsonb(c) FROM mospay.clients c LIMIT 1); END")

    response = integrator.pay()

    assert response.json()["error"]["code"] == "FUNCTION_ERROR"
    assert "permission denied" in transaction(db, integrator, response.json()["unique_id"])["error_detail"]
    assert downstream.received == []


def test_an_endless_function_is_cut_at_the_statement_timeout_while_others_flow(integrator, admin, base_url, rt):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN LOOP END LOOP; END")
    other_client = admin.create_client()
    admin.assign(other_client, integrator.service)
    other = Integrator(base_url, other_client, integrator.service)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        stuck = [pool.submit(integrator.pay, integrator.message(), timeout=10) for _ in range(2)]
        flowing = [other.pay() for _ in range(5)]

    assert all(r.result().status_code == 504 for r in stuck)
    assert all(r.result().json()["error"]["code"] == "FUNCTION_TIMEOUT" for r in stuck)
    assert [r.status_code for r in flowing] == [200] * 5
    assert max(r.elapsed.total_seconds() for r in flowing) < 0.5


def test_secrets_in_f007_and_f008_never_reach_a_table(integrator, downstream, rt, db):
    pin, password = "SENTINEL-PIN-7731", "SENTINEL-PASS-9925"
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    # A function that copies the secrets into the downstream call, headers and body.
    replace_function(rt, name, """BEGIN RETURN jsonb_build_object(
        'url', context #>> '{service,url}',
        'headers', jsonb_build_object('Authorization', 'Basic ' || (request->>'f008'), 'X-Pin', request->>'f007'),
        'body', request); END""")
    integrator.pay(integrator.message(f007=pin, f008=password))
    # And one whose error message quotes the secret.
    replace_function(rt, name, "BEGIN RAISE EXCEPTION 'bad pin %', request->>'f007'; END")
    refused = integrator.pay(integrator.message(f007=pin, f008=password))

    assert downstream.received[0]["body"]["f007"] == pin  # the provider does get it
    assert pin not in refused.text
    tables = [r["table_name"] for r in db(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'mospay'")]
    for table in tables:
        dump = db(f"SELECT coalesce(string_agg(t::text, ' '), '') AS dump FROM mospay.{table} t")[0]["dump"]
        assert pin not in dump and password not in dump, f"secret found in mospay.{table}"


@pytest.mark.parametrize("f000, f001, f002", [
    ("x'; DROP TABLE mospay.clients; --", "collection", "payment"),
    ("ms", "collection", 'payment"; SELECT 1; --'),
    ("MS", "COLLECTION", "PAYMENT"),
    ("a" * 500, "collection", "payment"),
    ("ms\u0000", "collection", "payment"),
])
def test_hostile_route_names_change_nothing(integrator, downstream, db, f000, f001, f002):
    counts = {t: db(f"SELECT count(*) AS n FROM mospay.{t}")[0]["n"] for t in ("clients", "transactions")}

    response = integrator.pay(integrator.message(f000=f000, f001=f001, f002=f002))

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert {t: db(f"SELECT count(*) AS n FROM mospay.{t}")[0]["n"] for t in counts} == counts
    assert downstream.received == []


def test_an_unknown_route_is_404_and_a_disabled_one_403(integrator, admin):
    unknown = integrator.pay(integrator.message(f002="refund"))
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "ROUTE_NOT_FOUND"

    route = f"/clients/{integrator.client['app_id']}/services/{integrator.service['microservice']}/collection/payment"
    assert admin.post(route + "/disable").status_code == 200
    disabled = integrator.pay()
    assert disabled.status_code == 403 and disabled.json()["error"]["code"] == "ROUTE_DISABLED"
    assert admin.post(route + "/enable").status_code == 200
    assert integrator.pay().status_code == 200


@pytest.mark.parametrize("fields, bad", [
    ({"f004": 12.5}, {"f004"}),
    ({"f004": "-5"}, {"f004"}),
    ({"f004": "0.5"}, {"f004"}),
    ({"f004": "2000000"}, {"f004"}),
    ({"f006": "abc"}, {"f006"}),
    ({"f005": "rwf", "f006": 250788}, {"f005", "f006"}),
    ({"f009": "x" * 101}, {"f009"}),
    ({"f011": "extra"}, {"f011"}),
    ({"f010": ""}, {"f010"}),
    ({"f010": "../../etc"}, {"f010"}),
])
def test_every_bad_field_is_named(integrator, fields, bad):
    response = integrator.pay(integrator.message(**fields))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert set(response.json()["error"]["details"]) == bad


def test_missing_fields_are_all_named(integrator):
    message = integrator.message()
    del message["f004"], message["f006"]

    response = integrator.pay(message)

    assert response.json()["error"]["details"] == {"f004": "is required", "f006": "is required"}


def test_f003_must_match_the_app_id(integrator):
    response = integrator.pay(integrator.message(f003="someoneelse"))
    assert response.status_code == 400 and response.json()["error"]["code"] == "APP_ID_MISMATCH"


@pytest.mark.parametrize("data, content_type, status, code", [
    (b"{not json", "application/json", 400, "MALFORMED_JSON"),
    (b"[1, 2]", "application/json", 400, "NOT_AN_OBJECT"),
    (b"\"text\"", "application/json", 400, "NOT_AN_OBJECT"),
    (b"", "application/json", 400, "MALFORMED_JSON"),
    (b"\xff\xfe", "application/json", 400, "MALFORMED_JSON"),
    (b"f000=x", "application/x-www-form-urlencoded", 415, "UNSUPPORTED_MEDIA_TYPE"),
    (b"{\"a\": \"" + b"x" * 70_000 + b"\"}", "application/json", 413, "PAYLOAD_TOO_LARGE"),
])
def test_malformed_bodies_get_a_precise_error(integrator, data, content_type, status, code):
    response = requests.post(f"{integrator.base_url}/api/v1/payment/process", data=data, auth=integrator.auth,
                             headers={**integrator.headers, "Content-Type": content_type})

    assert response.status_code == status
    assert response.json()["error"]["code"] == code


def test_the_original_x_app_id_header_is_accepted(integrator):
    response = requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(),
                             auth=integrator.auth, headers={"X-App-ID": integrator.client["app_id"]})
    assert response.status_code == 200


def test_unknown_urls_and_methods_answer_in_the_error_shape(base_url):
    assert requests.get(f"{base_url}/nowhere").json()["error"]["code"] == "NOT_FOUND"
    wrong_method = requests.get(f"{base_url}/api/v1/payment/process")
    assert wrong_method.status_code == 405 and wrong_method.json()["error"]["code"] == "METHOD_NOT_ALLOWED"


def test_another_clients_route_is_not_reachable(admin, integrator, base_url):
    other = admin.create_client()
    intruder = Integrator(base_url, other, integrator.service)

    response = intruder.pay()

    assert response.status_code == 404


def test_a_function_cannot_reset_its_way_out_of_the_sandbox(integrator, downstream, rt, db):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, """BEGIN
        RESET ROLE;
        PERFORM set_config('role', 'none', false);
        RETURN (SELECT to_jsonb(u) FROM mospay.users u LIMIT 1);
    END""")

    response = integrator.pay()

    assert response.json()["error"]["code"] == "FUNCTION_ERROR"
    # Functions run inside their client's gate (migration 0074), where PostgreSQL refuses any change of role.
    detail = transaction(db, integrator, response.json()["unique_id"])["error_detail"]
    assert 'cannot set parameter "role" within security-definer function' in detail
    assert downstream.received == []


def test_a_security_definer_function_is_refused_even_from_psql(integrator, rt):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.RaiseException, match="SECURITY DEFINER"):
            conn.execute(f'CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb, context jsonb) '
                         "RETURNS jsonb LANGUAGE sql SECURITY DEFINER AS $f$ SELECT request $f$")
        with pytest.raises(psycopg.errors.RaiseException, match="SECURITY DEFINER"):
            conn.execute(f'ALTER FUNCTION mospay_fn."{name}"(jsonb, jsonb) SECURITY DEFINER')
    assert integrator.pay().status_code == 200


def test_a_downstream_body_with_nul_characters_is_still_recorded(integrator, downstream, db):
    downstream.behaviour = lambda path, headers, body: (
        200, b'{"status": "SUCCESS", "code": "OK", "message": "a\\u0000b"}', 0)

    response = integrator.pay()

    assert response.status_code == 200 and response.json()["message"] == "ab"
    assert transaction(db, integrator, response.json()["unique_id"])["status"] == "SUCCESS"


def test_cookies_from_one_client_never_reach_another(admin, base_url, downstream):
    service = admin.create_service(downstream.url + "/pay")
    first, second = admin.create_client(), admin.create_client()
    admin.assign(first, service)
    admin.assign(second, service)
    downstream.behaviour = lambda path, headers, body: (200, {"status": "SUCCESS"}, 0)

    Integrator(base_url, first, service).pay()
    Integrator(base_url, second, service).pay()

    assert all("Cookie" not in call["headers"] for call in downstream.received)


@pytest.mark.parametrize("fields", [
    {"f004": 5e9}, {"f004": "NaN"}, {"f004": "100\n"}, {"f009": "a\u0000b"}, {"f010": "tx-1\n"},
])
def test_tricky_values_are_400_not_500(integrator, downstream, fields):
    response = integrator.pay(integrator.message(**fields))

    assert response.status_code == 400 and response.json()["error"]["code"] == "VALIDATION_ERROR"
    assert downstream.received == []


def test_odd_status_ids_are_404(integrator):
    for unique_id in ("%00", "x" * 500, "%E2%80%AE"):
        response = requests.get(f"{integrator.base_url}/api/v1/payment/status/{unique_id}",
                                auth=integrator.auth, headers=integrator.headers)
        assert response.status_code == 404


def test_a_function_cannot_switch_the_timeout_off(integrator, rt):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, """BEGIN
        PERFORM set_config('statement_timeout', '0', false);
        IF (request->>'f004') = '13' THEN LOOP END LOOP; END IF;
        RETURN jsonb_build_object('url', context #>> '{service,url}', 'body', request);
    END""")

    results = [integrator.pay(integrator.message(f004="13"), timeout=10) for _ in range(3)]

    assert [r.json()["error"]["code"] for r in results] == ["FUNCTION_TIMEOUT"] * 3


def test_an_invalid_call_from_the_request_function_forwards_nothing(integrator, downstream, rt, db):
    name = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    replace_function(rt, name, "BEGIN RETURN jsonb_build_object('url', 'ftp://elsewhere/x'); END")

    response = integrator.pay()

    assert response.status_code == 500 and response.json()["error"]["code"] == "INVALID_CALL_SPEC"
    assert response.json()["status"] == "FAILED" and downstream.received == []
    assert "http(s) URL" in transaction(db, integrator, response.json()["unique_id"])["error_detail"]


def test_a_service_without_field_rules_takes_the_standard_message(admin, base_url, downstream):
    """The original MosPay's message goes through a service created with no field rules, secrets masked."""
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fields=[])
    admin.assign(client, service)
    integrator = Integrator(base_url, client, service)
    message = {"f000": service["microservice"], "f001": "collection", "f002": "payment", "f003": client["app_id"],
               "f004": "2500", "f005": "250788123456", "f006": "alice", "f007": "enc-secret-1", "f008": "pin-1234",
               "f009": "device-7", "f010": "std-0001"}

    response = integrator.pay(message)

    assert response.status_code == 200, response.text
    assert downstream.received[-1]["body"]["f005"] == "250788123456"
    assert "f007" not in downstream.received[-1]["body"]  # the generic template forwards no secret
