"""Property-based fuzzing of the public and admin APIs over real HTTP (hypothesis).

Hostile bodies (random JSON, wrong types, unicode, NUL, huge numbers, bytes that
are not JSON or not UTF-8), odd content types and headers, odd path segments.
Whatever arrives: never a 5xx, never a traceback, every 4xx in the documented
error shape with a documented status, and a refused request changes nothing
(row counts of the switch's tables, generated functions and route files).
"""

import base64
import itertools
import json
import os
import uuid
from urllib.parse import quote

import pytest
import requests
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from requests.adapters import HTTPAdapter

from tests.api.documented import validator
from tests.factories import DEFAULT_FIELDS, unique_name

# The switch's own threads (connection pools) use `random` while a test draws: not the strategies' doing.
pytestmark = pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
# MOSPAY_FUZZ_EXAMPLES=2000 for a longer hunt; 100 keeps the file under a minute in CI.
FUZZ = settings(
    max_examples=int(os.environ.get("MOSPAY_FUZZ_EXAMPLES", "100")), deadline=None, database=None, print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.filter_too_much])
COUNTS = """SELECT (SELECT count(*) FROM mospay.users) AS users, (SELECT count(*) FROM mospay.clients) AS clients,
    (SELECT count(*) FROM mospay.services) AS services, (SELECT count(*) FROM mospay.client_services) AS routes,
    (SELECT count(*) FROM mospay.function_versions) AS versions,
    (SELECT count(*) FROM mospay.transactions) AS transactions, (SELECT count(*) FROM mospay.audit_log) AS audit,
    (SELECT count(*) FROM pg_proc WHERE pronamespace = 'mospay_fn'::regnamespace) AS functions"""

HOSTILE_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\ud800", "\udfff\ud800", "\u202e1500", "\ufeff1500", "𝟏𝟓𝟎𝟎", "١٥٠٠", "１５００",
    "1e309", "NaN", "Infinity", "-0", "0x10", " 1500", "1500\n", "1500.00001", "99999999999999999999.9999",
    "'; DROP TABLE mospay.clients; --", "${jndi:ldap://127.0.0.1/a}", "%00", "../../etc/passwd", "<script>",
    "a" * 300, "é" * 5000, "Z" * 70_000,
])
TEXT = st.one_of(HOSTILE_TEXT, st.text(max_size=40))
NUMBERS = st.one_of(st.integers(), st.sampled_from([2**63 - 1, 2**63, -(2**63) - 1, 10**30, -(10**400)]),
                    st.floats(allow_nan=True, allow_infinity=True))
SCALARS = st.one_of(st.none(), st.booleans(), NUMBERS, TEXT)
JSON_VALUES = st.recursive(SCALARS, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(TEXT, children, max_size=4)), max_leaves=12)
JSON_TYPE = "application/json"
CONTENT_TYPES = st.one_of(st.just(JSON_TYPE), st.just(JSON_TYPE), st.just(JSON_TYPE), st.sampled_from([
    "application/json; charset=utf-8", "application/problem+json", "text/plain", "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=x", "application/json; charset=latin-1", "", "*/*", "application/jsonx",
]))
# Values that may pass a field's rules, to reach the functions, the database and the downstream.
UNICODE = st.text(max_size=120)
NAME = st.from_regex(r"[a-z][a-z0-9_]{0,44}", fullmatch=True)
URL = st.from_regex(r"https?://[a-z0-9.:/%?=&-]{1,40}", fullmatch=True)
FITTING = {
    "f004": st.one_of(st.integers(-10, 2_000_000), st.from_regex(r"-?[0-9]{1,20}(\.[0-9]{0,6})?", fullmatch=True),
                      st.from_regex(r"(0|[1-9][0-9]{0,14})(\.[0-9]{1,4})?", fullmatch=True)),
    "f005": st.from_regex(r"[A-Z]{3}", fullmatch=True), "f006": st.from_regex(r"\+?[1-9][0-9]{7,14}", fullmatch=True),
    "f007": UNICODE, "f008": UNICODE, "f009": UNICODE,
    "f010": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}", fullmatch=True),
    "name": UNICODE, "app_id": NAME, "callback_url": st.one_of(st.none(), URL), "microservice": NAME,
    "service": NAME, "route": NAME, "url": URL, "timeout_ms": st.integers(0, 70_000),
    "method": st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "TRACE", "post"]),
    "template": st.sampled_from(["generic_json", "mtn_momo_collection", "../generic_json", ""]),
}
# Path segments stay under the HTTP server's request-line limit (a longer line never reaches the app).
SEGMENT = TEXT.filter(lambda t: len(t) <= 1000 and "\ud800" not in t and "\udfff" not in t)
HEADER_TEXT = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80)


def basic(username, password):
    """A Basic Authorization value (UTF-8 inside base64)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


@st.composite
def mutated(draw, valid, keys):
    """``valid`` with some keys deleted, replaced by hostile values, or added."""
    body = dict(valid)
    for key in draw(st.lists(st.sampled_from(keys), max_size=4, unique=True)):
        how = draw(st.sampled_from(["delete", "hostile", "fitting", "fitting"]))
        if how == "delete":
            body.pop(key, None)
        else:
            body[key] = draw(FITTING[key] if how == "fitting" and key in FITTING else JSON_VALUES)
    extra = draw(st.dictionaries(st.one_of(TEXT, st.sampled_from(["f011", "f0", "F004", "__proto__"])),
                                 JSON_VALUES, max_size=1 if draw(st.booleans()) else 0))
    return {**body, **extra}


@st.composite
def encoded(draw, body_strategy):
    """``(bytes, content_type)``: a body as JSON, as JSON with unpaired surrogates, truncated, or raw bytes."""
    content_type = draw(CONTENT_TYPES)
    how = draw(st.sampled_from(["json", "json", "json", "utf8", "truncated", "bytes", "top-level"]))
    if how == "bytes":
        return draw(st.binary(max_size=200)), content_type
    value = draw(JSON_VALUES) if how == "top-level" else draw(body_strategy)
    text = json.dumps(value, ensure_ascii=how != "utf8")
    raw = text.encode("utf-8", "surrogatepass")
    if how == "truncated":
        raw = raw[: draw(st.integers(0, max(0, len(raw) - 1)))]
    return raw, content_type


class SourceAddress(HTTPAdapter):
    """Connects from a chosen local address (any of 127.0.0.0/8 reaches a server on 127.0.0.1)."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs, source_address=(self.address, 0))


LOOPBACK_SOURCES = (f"127.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in itertools.count(2))


class Fuzz:
    """Sends requests and checks each answer against the description and the database."""

    def __init__(self, spec, db, routes_dir):
        self.spec, self.db, self.routes_dir = spec, db, routes_dir
        self.error = validator(spec, {"$ref": "#/components/schemas/Error"})

    def state(self):
        return {**self.db(COUNTS)[0], "route_files": sum(1 for _ in self.routes_dir.rglob("*.yaml"))}

    def send(self, documented, method, url, session=requests, **kwargs):
        """Send one request; assert it is answered as documented and, when refused, changed nothing."""
        before = self.state()
        response = session.request(method, url, timeout=15, **kwargs)
        after = self.state()
        where = f"{method} {url} {kwargs.get('data', kwargs.get('json'))!r:.300} -> {response.status_code}"
        is_error = response.status_code >= 400 and response.headers.get("Content-Type") == "application/json"
        event(f"HTTP {response.status_code} {response.json()['error']['code'] if is_error else ''}")
        assert response.status_code < 500, f"{where}: {response.text[:2000]}"
        assert "Traceback" not in response.text, where
        if documented:
            path, op_method = documented
            statuses = self.spec["paths"][path][op_method]["responses"]
            assert str(response.status_code) in statuses, f"{where}: undocumented status {response.text[:500]}"
        if response.status_code >= 400:
            assert response.headers["Content-Type"].startswith("application/json"), where
            body = response.json()
            assert [e.message for e in self.error.iter_errors(body)] == [], f"{where}: {body}"
            recorded = "status" in body  # a payment refused after it was recorded (its row is the record)
            expected = {**before, "transactions": after["transactions"]} if recorded else before
            assert after == expected, f"{where}: a refused request changed {before} into {after}"
            assert not recorded or after["transactions"] == before["transactions"] + 1
        return response


@pytest.fixture
def fuzz(spec, db, config):
    return Fuzz(spec, db, config.ROUTES_DIR)


@pytest.fixture(scope="module")
def spec():
    from gateway.openapi.spec import build_spec

    return build_spec()


PROCESS = ("/api/v1/payment/process", "post")
ENVELOPE_AND_FIELDS = ["f000", "f001", "f002", "f003", "f004", "f005", "f006", "f007", "f008", "f009", "f010"]


@FUZZ
@given(data=st.data())
def test_payment_process_survives_hostile_bodies(fuzz, integrator, data):
    valid = integrator.message(f010=unique_name("fz"))
    raw, content_type = data.draw(encoded(mutated(valid, ENVELOPE_AND_FIELDS)))
    headers = {**integrator.headers, **({"Content-Type": content_type} if content_type else {})}
    fuzz.send(PROCESS, "POST", f"{integrator.base_url}/api/v1/payment/process", data=raw, headers=headers,
              auth=integrator.auth)


@FUZZ
@given(data=st.data())
def test_payment_process_survives_odd_headers(fuzz, integrator, data):
    """Headers around a valid body: App-ID, Authorization, request id and content type, each maybe odd."""
    app_id, (username, password) = integrator.client["app_id"], integrator.auth
    token = uuid.uuid4().hex
    headers = {
        "App-ID": data.draw(st.one_of(st.just(app_id), HEADER_TEXT, st.just(app_id.upper()), st.just(f" {app_id} "))),
        "Authorization": data.draw(st.one_of(
            st.just(basic(username, password)), HEADER_TEXT,
            st.builds(basic, SEGMENT, SEGMENT),
            st.just("Bearer " + token), st.just("Basic"), st.just("Basic !!!"), st.just("bearer  "))),
        "X-Request-ID": data.draw(HEADER_TEXT),
        "Content-Type": data.draw(CONTENT_TYPES),
        **data.draw(st.dictionaries(st.sampled_from(["X-App-ID", "Content-Length-X", "Transfer-Encoding-X",
                                                     "Idempotency-Key"]), HEADER_TEXT, max_size=2)),
    }
    # HTTP strips the whitespace around a value (and requests refuses to send it).
    headers = {name: value.strip(" \t").encode("latin-1") for name, value in headers.items() if value.strip(" \t")}
    # Each example comes from its own loopback address, so the lockout per (App-ID, address) that
    # ten bad credentials trigger never hides the credential check from the next example.
    with requests.Session() as session:
        session.mount("http://", SourceAddress(next(LOOPBACK_SOURCES)))
        fuzz.send(PROCESS, "POST", f"{integrator.base_url}/api/v1/payment/process",
                  data=json.dumps(integrator.message()).encode(), headers=headers, session=session)


@FUZZ
@given(unique_id=st.one_of(SEGMENT, st.text(st.characters(codec="utf-8"), max_size=70)), raw=st.booleans(),
       query=st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=2))
def test_payment_status_survives_odd_ids(fuzz, integrator, unique_id, raw, query):
    segment = quote(unique_id.encode("utf-8", "surrogatepass"), safe="/" if raw else "")
    documented = None if raw and "/" in unique_id else ("/api/v1/payment/status/{unique_id}", "get")
    fuzz.send(documented, "GET", f"{integrator.base_url}/api/v1/payment/status/{segment}", params=query,
              auth=integrator.auth, headers=integrator.headers)


@FUZZ
@given(data=st.data())
def test_admin_create_client_survives_hostile_bodies(fuzz, admin, data):
    valid = {"name": "Fuzz Client", "app_id": unique_name("fz"), "callback_url": "https://shop.example/cb"}
    raw, content_type = data.draw(encoded(mutated(valid, list(valid))))
    fuzz.send(("/api/v1/admin/clients", "post"), "POST", f"{admin.base_url}/api/v1/admin/clients", data=raw,
              headers={**admin.headers, "Content-Type": content_type})


FIELD_DEFINITION = st.fixed_dictionaries({}, optional={
    "code": st.one_of(st.sampled_from(["f004", "f005", "f006", "f007", "f008", "f009", "f010", "f4"]), TEXT),
    "name": TEXT, "type": st.one_of(st.sampled_from(["amount", "string", "enum", "msisdn", "integer"]), TEXT),
    "required": SCALARS, "pattern": st.one_of(st.sampled_from(["(", "[a-", "(a+)+$", "\\", "^x\\Z"]), TEXT),
    "min": SCALARS, "max": SCALARS, "values": JSON_VALUES, "colour": SCALARS,
})


@FUZZ
@given(data=st.data())
def test_admin_create_service_survives_hostile_bodies(fuzz, admin, downstream, data):
    valid = {"microservice": unique_name("fz"), "service": "collection", "route": "payment",
             "url": downstream.url + "/pay", "method": "POST", "timeout_ms": 2000, "template": "generic_json",
             "fields": data.draw(st.one_of(st.just(DEFAULT_FIELDS), st.lists(FIELD_DEFINITION, max_size=3)))}
    raw, content_type = data.draw(encoded(mutated(valid, list(valid))))
    fuzz.send(("/api/v1/admin/services", "post"), "POST", f"{admin.base_url}/api/v1/admin/services", data=raw,
              headers={**admin.headers, "Content-Type": content_type})


@pytest.fixture
def unassigned(admin, downstream):
    """A client and a service, not yet assigned to each other."""
    return admin.create_client(), admin.create_service(downstream.url + "/pay")


@FUZZ
@given(data=st.data())
def test_admin_assign_service_survives_hostile_bodies_and_ids(fuzz, admin, unassigned, data):
    client, service = unassigned
    valid = {k: service[k] for k in ("microservice", "service", "route")}
    app_id = data.draw(st.one_of(st.just(client["app_id"]), SEGMENT))
    segment = quote(app_id, safe="")
    raw, content_type = data.draw(encoded(mutated(valid, list(valid))))
    plain = "/" not in app_id and app_id not in ("", ".", "..")  # else the path is another route, or none
    fuzz.send(("/api/v1/admin/clients/{app_id}/services", "post") if plain else None, "POST",
              f"{admin.base_url}/api/v1/admin/clients/{segment}/services", data=raw,
              headers={**admin.headers, "Content-Type": content_type})


@FUZZ
@given(data=st.data(), kind=st.sampled_from(["", "RESPONSE_"]))
def test_admin_function_test_run_survives_hostile_samples(fuzz, admin, integrator, data, kind):
    """The DBA workbench's test run feeds a sample to a client function in the sandbox, rolled back."""
    service = integrator.service
    name = f"{kind}{integrator.client['app_id']}_{service['microservice']}_{service['route']}"
    valid = {"request": integrator.message(),
             "response": {"status_code": 200, "headers": {}, "body": {"status": "SUCCESS"}, "elapsed_ms": 3}}
    raw, content_type = data.draw(encoded(st.one_of(mutated(valid, list(valid)), st.fixed_dictionaries({
        "request": mutated(valid["request"], ENVELOPE_AND_FIELDS), "response": mutated(valid["response"], [
            "status_code", "headers", "body", "elapsed_ms", "error"])}))))
    fuzz.send(("/api/v1/admin/functions/{name}/test", "post"), "POST",
              f"{admin.base_url}/api/v1/admin/functions/{name}/test", data=raw,
              headers={**admin.headers, "Content-Type": content_type})


@FUZZ
@given(authorization=st.one_of(HEADER_TEXT, st.builds("Bearer {}".format, HEADER_TEXT)),
       path=st.sampled_from(["/clients", "/services", "/users", "/functions"]))
def test_admin_api_refuses_odd_tokens(fuzz, base_url, authorization, path):
    response = fuzz.send(None, "GET", f"{base_url}/api/v1/admin{path}",
                         headers={"Authorization": authorization.strip(" \t").encode("latin-1")})
    assert response.status_code == 401
