"""Low findings of the attack run (issue 11, point 10): each attack, replayed through the real HTTP API."""

import orjson
import pytest
import requests

from tests.conftest import ADMIN_PASSWORD
from tests.factories import unique_name


@pytest.mark.parametrize("password", ["x" * 73, "é" * 40, "🔑" * 19])  # 73, 80 and 76 bytes; 73, 40, 19 characters
def test_a_password_bcrypt_cannot_take_is_a_400_naming_the_limit(admin, password):
    username = unique_name("user")
    created = admin.post("/users", {"username": username, "role": "viewer", "password": password})
    changed = admin.post("/password", {"current_password": ADMIN_PASSWORD, "new_password": password})
    for response, field in ((created, "password"), (changed, "new_password")):
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "VALIDATION_ERROR"
        assert error["details"][field].startswith("must be at most 72 bytes in UTF-8")
    assert admin.post("/users", {"username": username, "role": "viewer", "password": "é" * 36}).status_code == 201


def _chunks(body, size=8192):
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_a_chunked_body_over_the_limit_is_413_not_cut_and_processed(integrator, config, downstream):
    # A message followed by whitespace past MOSPAY_MAX_BODY_BYTES, sent without Content-Length: it was read
    # up to the limit, the cut still parsed, and the payment was processed.
    body = orjson.dumps(integrator.message()) + b" " * config.MAX_BODY_BYTES
    response = requests.post(f"{integrator.base_url}/api/v1/payment/process", data=_chunks(body),
                             auth=integrator.auth, headers={**integrator.headers, "Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
    assert downstream.received == []
    fits = orjson.dumps(integrator.message())
    answered = requests.post(f"{integrator.base_url}/api/v1/payment/process", data=_chunks(fits, 16),
                             auth=integrator.auth, headers={**integrator.headers, "Content-Type": "application/json"},
                             timeout=10)
    assert answered.status_code == 200, answered.text


def _put_function(admin, name, args, body):
    source = (f'CREATE OR REPLACE FUNCTION mospay_fn."{name}"({args}) RETURNS jsonb LANGUAGE plpgsql '
              f"AS $function$ {body} $function$")
    saved = admin.put(f"/functions/{name}", {"source": source})
    assert saved.status_code == 200, saved.text


def test_a_function_cannot_send_a_huge_body_or_raise_a_huge_message(admin, integrator, downstream):
    request_function = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    # A 2 MB body to forward (the limit is MOSPAY_MAX_UPSTREAM_BODY_BYTES, 1 MiB): refused, nothing sent.
    _put_function(admin, request_function, "request jsonb, context jsonb",
                  "BEGIN RETURN jsonb_build_object('url', context #>> '{service,url}', "
                  "'body', jsonb_build_object('blob', repeat('x', 2000000))); END")
    refused = integrator.pay(timeout=30)
    assert refused.status_code == 500, refused.text
    assert refused.json()["error"]["code"] == "INVALID_CALL_SPEC"
    assert downstream.received == []
    # A 1 MB RAISE message: the client sees its first 500 characters.
    _put_function(admin, request_function, "request jsonb, context jsonb",
                  "BEGIN RAISE EXCEPTION '%', repeat('y', 1000000); END")
    raised = integrator.pay(timeout=30)
    assert raised.status_code == 400
    assert raised.json()["error"] == {"code": "FUNCTION_RAISED", "message": "y" * 500}
    assert len(raised.content) < 2000


def test_a_response_function_cannot_answer_with_huge_data(admin, integrator, downstream):
    response_function = f"RESPONSE_{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    _put_function(admin, response_function, "request jsonb, response jsonb, context jsonb",
                  "BEGIN RETURN jsonb_build_object('status', 'SUCCESS', 'message', repeat('m', 100000), "
                  "'data', jsonb_build_object('blob', repeat('d', 1000000))); END")
    answered = integrator.pay(timeout=30)
    assert answered.json()["error"]["code"] == "FUNCTION_ERROR", answered.text
    assert len(answered.content) < 2000
    _put_function(admin, response_function, "request jsonb, response jsonb, context jsonb",
                  "BEGIN RETURN jsonb_build_object('status', 'SUCCESS', 'message', repeat('m', 100000)); END")
    bounded = integrator.pay(timeout=30)
    assert bounded.status_code == 200, bounded.text
    assert bounded.json()["message"] == "m" * 500


@pytest.mark.parametrize("url", ["http://127.0.0.1:5000/api/v1/admin/users", "http://localhost/cb",
                                 "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/cb",
                                 "http://[::1]/cb", "http://[::ffff:127.0.0.1]/cb", "http://2130706433/cb"])
def test_callback_urls_into_the_switchs_network_are_refused_unless_allowed(admin, rt, monkeypatch, url):
    monkeypatch.setattr(rt.config, "ALLOW_PRIVATE_CALLBACKS", False)  # production's default
    created = admin.post("/clients", {"name": unique_name("Ssrf "), "callback_url": url})
    assert created.status_code == 400, created.text
    assert "MOSPAY_ALLOW_PRIVATE_CALLBACKS" in created.json()["error"]["details"]["callback_url"]
    client = admin.create_client(callback_url="https://93.184.215.14/cb")  # a public address is fine
    moved = admin.put(f"/clients/{client['app_id']}/callback-url", {"callback_url": url})
    assert moved.status_code == 400, moved.text
    monkeypatch.setattr(rt.config, "ALLOW_PRIVATE_CALLBACKS", True)  # an operator's choice (and development's)
    assert admin.put(f"/clients/{client['app_id']}/callback-url", {"callback_url": url}).status_code == 200
