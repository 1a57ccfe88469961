"""Low findings of the attack run (issue 11, point 10): each attack, replayed through the real HTTP API."""

import os
import stat

import orjson
import pytest
import requests

from config import DEFAULT_JWT_SECRET, Config
from gateway import create_app
from gateway.security import tokens
from tests.conftest import ADMIN_PASSWORD, TEST_SETTINGS
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


def test_production_sets_secure_on_the_portal_cookies(config, monkeypatch):
    monkeypatch.setenv("MOSPAY_ENV", "production")
    production = Config(DATABASE_URL=config.DATABASE_URL, ROUTES_DIR=config.ROUTES_DIR, SECRET_KEY="s" * 40,
                        JWT_SECRET_KEY="j" * 40, **TEST_SETTINGS)
    assert production.ALLOW_PRIVATE_CALLBACKS is False
    app = create_app(production)
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True and app.config["REMEMBER_COOKIE_SECURE"] is True
        cookie = app.test_client().get("/portal/login").headers["Set-Cookie"]
        assert cookie.startswith("mospay_session=") and "; Secure" in cookie and "HttpOnly" in cookie
    finally:
        app.extensions["mospay"].stop()


def test_development_secrets_are_random_kept_and_private(tmp_path, monkeypatch):
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "MOSPAY_ENV"):
        monkeypatch.delenv(name, raising=False)
    first, again = Config(DATA_DIR=tmp_path), Config(DATA_DIR=tmp_path)
    assert (first.SECRET_KEY, first.JWT_SECRET_KEY) == (again.SECRET_KEY, again.JWT_SECRET_KEY)
    assert len(first.JWT_SECRET_KEY) >= 32 and first.JWT_SECRET_KEY != DEFAULT_JWT_SECRET
    assert stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode) == 0o600
    assert Config(DATA_DIR=tmp_path / "other").JWT_SECRET_KEY != first.JWT_SECRET_KEY
    with pytest.raises(ValueError, match="published development key"):
        Config(DATA_DIR=tmp_path, JWT_SECRET_KEY=DEFAULT_JWT_SECRET).check()


def test_a_token_signed_with_the_published_development_key_is_refused(admin, db, base_url):
    user_id, version = db("SELECT id, password_version FROM mospay.users WHERE username = 'admin'")[0]
    forged = tokens.issue(DEFAULT_JWT_SECRET, str(user_id), tokens.ADMIN_AUDIENCE, version, 600)
    response = requests.get(f"{base_url}/api/v1/admin/users", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401, response.text
    assert admin.get("/users").status_code == 200  # the switch's own tokens still work


@pytest.mark.parametrize("method, path", [("TRACE", "/api/v1/payment/process"), ("PUT", "/api/v1/payment/process"),
                                          ("DELETE", "/api/v1/admin/token"), ("TRACE", "/health"),
                                          ("TRACE", "/portal/login")])
def test_every_405_says_which_methods_are_allowed(base_url, method, path):
    response = requests.request(method, f"{base_url}{path}")
    assert response.status_code == 405
    if not path.startswith("/portal/"):  # the portal answers with its HTML page
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
    allowed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed and method not in allowed
