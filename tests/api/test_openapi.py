"""The OpenAPI description tells the truth: every route is described, the document is valid
OpenAPI 3.1, every example fits its schema, and real answers of the live switch fit the
documented schemas. The committed Postman collection is the one the description generates.
"""

import json
import re
from pathlib import Path

import pytest
import requests

from gateway.admin.demo import DEMO_SERVICE
from gateway.hot_path.fields import check_field_definitions, compile_validator
from gateway.openapi import examples as ex
from gateway.openapi.paths_providers import EXAMPLE_VALUES
from gateway.openapi.postman import render
from gateway.openapi.spec import build_spec
from tests.api.documented import check, validator
from tests.factories import Integrator, unique_name

ROOT = Path(__file__).resolve().parents[2]
POSTMAN_FILE = ROOT / "docs" / "mospay.postman_collection.json"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
METHODS = {"get", "put", "post", "delete", "patch"}
_FLASK_ARG = re.compile(r"<(?:[^<>]*:)?(\w+)>")


@pytest.fixture(scope="module")
def spec():
    return build_spec()


def described(rule):
    """A Flask rule as an OpenAPI path: ``<any(a, b):action>`` → ``{action}``."""
    return _FLASK_ARG.sub(r"{\1}", rule)


def api_rules(app):
    """``{(method, path)}`` of every registered /api/ route and of /health and /ready."""
    return {(method.lower(), described(rule.rule)) for rule in app.url_map.iter_rules()
            if rule.rule.startswith("/api/") or rule.rule in ("/health", "/ready")
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def operations(spec):
    return {(method, path) for path, item in spec["paths"].items() for method in item if method in METHODS}


# (a) every route is described, and nothing described is missing

def test_every_api_route_is_described(app, spec):
    missing = api_rules(app) - operations(spec)
    assert not missing, f"routes without a description: {sorted(missing)}"


def test_every_described_operation_exists(app, spec):
    stale = operations(spec) - api_rules(app)
    assert not stale, f"described but not routed: {sorted(stale)}"


def test_every_path_parameter_is_declared(spec):
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            declared = {p["name"] for p in item[method].get("parameters", []) if p["in"] == "path"}
            assert declared == set(re.findall(r"\{(\w+)\}", path)), f"{method} {path}"


# (b) the document is valid OpenAPI 3.1

def test_the_document_is_valid_openapi_3_1(spec):
    from openapi_spec_validator import validate

    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_the_document_is_served_and_is_the_one_built(base_url, spec):
    response = requests.get(f"{base_url}/api/v1/openapi.json", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/json")
    assert response.json() == json.loads(json.dumps(spec))


def test_every_error_code_of_the_switch_is_documented(spec):
    codes = set(spec["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["code"]["enum"])
    source = (ROOT / "gateway" / "errors.py").read_text() + (ROOT / "gateway/functions/workbench.py").read_text()
    assert set(re.findall(r'code(?:, \w+)* = (?:\d+, )?"([A-Z_]+)"', source)) <= codes
    assert {"VALIDATION_ERROR", "IN_PROGRESS", "MODIFIED_REQUEST", "UPSTREAM_TIMEOUT", "FUNCTION_REFUSED"} <= codes


# (c) every example fits its schema

def examples_in(spec):
    """``(where, schema, value)`` of every example in the document."""
    found = []
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            op = item[method]
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                found.append((f"{where} parameter {param['name']}", param["schema"], param["example"]))
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            if media:
                found += [(f"{where} body {name}", media["schema"], e["value"])
                          for name, e in media["examples"].items()]
            for status, response in op["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                found += [(f"{where} {status} {name}", media["schema"], e["value"])
                          for name, e in media.get("examples", {}).items()]
    for name, header in spec["components"]["headers"].items():
        if "example" in header:
            found.append((f"header {name}", header["schema"], header["example"]))
    return found


def test_every_example_validates_against_its_schema(spec):
    found = examples_in(spec)
    assert len(found) > 150
    problems = [f"{where}: {error.message}" for where, schema, value in found
                for error in validator(spec, schema).iter_errors(value)]
    assert problems == []


def test_every_operation_has_examples_for_its_bodies_and_answers(spec):
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            op = item[method]
            media = op.get("requestBody", {}).get("content", {}).get("application/json")
            assert media is None or media["examples"], f"{method} {path} body"
            for status, response in op["responses"].items():
                if path != "/api/v1/openapi.json":
                    content = response["content"]  # a CSV export answers text/csv, with its own example
                    media = content.get("application/json") or content["text/csv"]
                    assert media["examples"], f"{method} {path} {status}"


def test_the_examples_are_accepted_by_the_demo_service_rules():
    assert list(compile_validator(DEMO_SERVICE["fields"]).iter_errors(ex.PAYMENT)) == []
    assert check_field_definitions(ex.ADMIN["service_create"]["fields"]) == {}


# (d) the live switch answers what the description says

@pytest.fixture
def standard_integrator(base_url, admin, downstream):
    """A client of a service without field rules: it takes the standard message (f005 the payer's MSISDN)."""
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fields=[])
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def test_the_payment_example_goes_through_the_live_switch_as_documented(spec, standard_integrator):
    integrator = standard_integrator
    message = {**ex.PAYMENT, **{k: v for k, v in integrator.message().items() if k in ("f000", "f001", "f002",
                                                                                      "f003", "f010")}}
    first = integrator.pay(message)
    body = check(spec, "/api/v1/payment/process", "post", first)
    assert body["status"] == "SUCCESS" and body["unique_id"] == message["f010"]
    assert "Server-Timing" in first.headers

    replay = integrator.pay(message)
    assert check(spec, "/api/v1/payment/process", "post", replay) == body
    assert replay.headers["Idempotent-Replayed"] == "true"
    modified = integrator.pay({**message, "f004": "1501"})
    assert check(spec, "/api/v1/payment/process", "post", modified)["error"]["code"] == "MODIFIED_REQUEST"
    invalid = integrator.pay({**message, "f004": "1.23456", "f010": unique_name("tx")})
    assert check(spec, "/api/v1/payment/process", "post", invalid)["error"]["details"] == {
        "f004": "has an invalid format"}

    status_path = "/api/v1/payment/status/{unique_id}"
    status = requests.get(f"{integrator.base_url}/api/v1/payment/status/{message['f010']}", auth=integrator.auth,
                          headers=integrator.headers, timeout=5)
    assert check(spec, status_path, "get", status)["answer"] == body
    unknown = requests.get(f"{integrator.base_url}/api/v1/payment/status/nope", auth=integrator.auth,
                           headers=integrator.headers, timeout=5)
    assert check(spec, status_path, "get", unknown)["error"]["code"] == "TRANSACTION_NOT_FOUND"


def test_client_tokens_and_auth_failures_are_as_documented(spec, integrator):
    token = requests.post(f"{integrator.base_url}/api/v1/auth/token", auth=integrator.auth,
                          headers=integrator.headers, timeout=5)
    jwt = check(spec, "/api/v1/auth/token", "post", token)["access_token"]
    paid = requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(), timeout=5,
                         headers={**integrator.headers, "Authorization": f"Bearer {jwt}"})
    assert check(spec, "/api/v1/payment/process", "post", paid)["status"] == "SUCCESS"
    refused = requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(),
                            headers={"App-ID": integrator.client["app_id"]}, timeout=5)
    assert check(spec, "/api/v1/payment/process", "post", refused)["error"]["code"] == "UNAUTHORIZED"


def test_the_admin_examples_go_through_the_live_switch_as_documented(spec, admin, downstream):
    client = admin.post("/clients", {**ex.ADMIN["client_create"], "app_id": unique_name("shop")})
    app_id = check(spec, "/api/v1/admin/clients", "post", client)["app_id"]
    # Route "payment": tests/admin/test_routes_config.py derives function names from any route file assuming it.
    service = admin.post("/services", {**ex.ADMIN["service_create"], "microservice": unique_name("ms"),
                                       "route": "payment", "url": downstream.url + "/pay"})
    key = {k: check(spec, "/api/v1/admin/services", "post", service)[k] for k in ("microservice", "service", "route")}
    vault = "/api/v1/admin/services/{microservice}/{service}/{route}/credentials"
    missing = admin.get(vault.removeprefix("/api/v1/admin").format(**key))
    assert check(spec, vault, "get", missing)["missing"] == ["api_user", "api_key", "subscription_key",
                                                             "target_environment"]
    refused = admin.post(f"/clients/{app_id}/services", key)
    assert check(spec, "/api/v1/admin/clients/{app_id}/services", "post", refused)["error"]["code"] == \
        "PROVIDER_NOT_CONFIGURED"
    stored = admin.put(vault.removeprefix("/api/v1/admin").format(**key), EXAMPLE_VALUES)
    assert check(spec, vault, "put", stored)["missing"] == []
    assigned = admin.post(f"/clients/{app_id}/services", key)
    function = check(spec, "/api/v1/admin/clients/{app_id}/services", "post", assigned)["request_function"]
    again = admin.post(f"/clients/{app_id}/services", key)
    assert check(spec, "/api/v1/admin/clients/{app_id}/services", "post", again)["error"]["code"] == "ALREADY_EXISTS"

    route = "/".join(key.values())
    reads = {
        "/api/v1/admin/clients": "/clients", "/api/v1/admin/services": "/services", "/api/v1/admin/users": "/users",
        "/api/v1/admin/clients/{app_id}": f"/clients/{app_id}", "/api/v1/admin/functions": "/functions",
        "/api/v1/admin/functions/{name}": f"/functions/{function}",
        "/api/v1/admin/functions/{name}/versions": f"/functions/{function}/versions",
        "/api/v1/admin/functions/{name}/versions/{version}": f"/functions/{function}/versions/1",
        "/api/v1/admin/functions/{name}/diff": f"/functions/{function}/diff?from=1&to=1",
    }
    for path, url in reads.items():
        check(spec, path, "get", admin.get(url))
    writes = {
        "/api/v1/admin/clients/{app_id}/services/{microservice}/{service}/{route}/{action}":
            f"/clients/{app_id}/services/{route}/disable",
        "/api/v1/admin/clients/{app_id}/deactivate": f"/clients/{app_id}/deactivate",
        "/api/v1/admin/clients/{app_id}/activate": f"/clients/{app_id}/activate",
        "/api/v1/admin/clients/{app_id}/credentials": f"/clients/{app_id}/credentials",
        "/api/v1/admin/functions/{name}/record-drift": f"/functions/{function}/record-drift",
    }
    for path, url in writes.items():
        check(spec, path, "post", admin.post(url))
    tested = admin.post(f"/functions/{function}/test", {"request": {**ex.PAYMENT, "f003": app_id}})
    check(spec, "/api/v1/admin/functions/{name}/test", "post", tested)


def test_health_and_readiness_are_as_documented(spec, base_url):
    for path in ("/health", "/ready"):
        check(spec, path, "get", requests.get(base_url + path, timeout=5))


# docs and Postman

def test_the_docs_page_serves_swagger_ui_from_installed_files_without_inline_script(base_url):
    page = requests.get(f"{base_url}/docs", timeout=5)
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == []
    assets = re.findall(r'(?:src|href)="(/[^"]+)"', page.text)
    assert len(assets) == 6
    for asset in assets:
        response = requests.get(base_url + asset, timeout=5)
        assert response.status_code == 200 and len(response.content) > 100, asset


def test_the_committed_postman_collection_is_up_to_date(spec):
    assert POSTMAN_FILE.read_text() == render(), (
        "regenerate it: python -m gateway.openapi.postman > docs/mospay.postman_collection.json")
    collection = json.loads(POSTMAN_FILE.read_text())
    requests_in_collection = [item["request"] for folder in collection["item"] for item in folder["item"]]
    assert len(requests_in_collection) == len(operations(spec))
    payment = next(r for r in requests_in_collection if r["url"]["raw"] == "{{baseUrl}}/api/v1/payment/process")
    assert json.loads(payment["body"]["raw"]) == ex.PAYMENT
    assert payment["auth"]["type"] == "basic" and {"key": "App-ID", "value": "{{appId}}"} in payment["header"]


def test_the_docs_render_in_a_browser_under_the_csp(browser, base_url, spec):
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type in ("error", "warning") and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto("/docs")
        page.wait_for_selector(".opblock", timeout=15_000)
        assert page.locator(".opblock").count() == len(operations(spec))
        info = page.inner_text(".information-container")
        assert "MosPay switch API" in info and "OAS 3.1" in info and "Warning" not in info
        page.click("#operations-Payments-processPayment")
        page.wait_for_selector("#operations-Payments-processPayment .responses-table")
        assert "UPSTREAM_TIMEOUT" in page.inner_text("#operations-Payments-processPayment")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "30-api-docs.png"), full_page=False)
        assert problems == []
    finally:
        context.close()
