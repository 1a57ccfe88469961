"""Inbound provider callbacks: POST /api/v1/callbacks/<app_id>/<microservice>/<route>?token=<route's token>.

(Forged and unauthenticated callbacks are the attack stories of tests/security/test_provider_callback_auth.py.)"""

import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.factories import CALLBACK_URLS, Integrator
from tests.providers import mpesa_message, mpesa_route
from tests.providers import mpesa_server as start_mpesa_server

SECRET = "provider-shared-secret-0123456789"


def pending(path, headers, body):
    return 200, {"status": "PENDING", "code": "ACCEPTED", "message": "later",
                 "data": {"provider_ref": f"prov-{body['f010']}"}}, 0


def callback_url(base_url, integrator):
    """The route's callback URL as its assignment gave it (with the route's token): what the provider is told."""
    service = integrator.service
    return CALLBACK_URLS[(base_url, integrator.client["app_id"], service["microservice"], service["route"])]


def notify(base_url, integrator, payload, headers=None):
    raw = json.dumps(payload).encode()
    return requests.post(callback_url(base_url, integrator), data=raw,
                         headers={"Content-Type": "application/json", **(headers or {})}, timeout=10)


def signed(payload, secret=SECRET):
    raw = json.dumps(payload).encode()
    return raw, hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def state(db, ref):
    return db("SELECT status, answer, completed_at FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def records(db, ref):
    return [r["outcome"] for r in db(
        "SELECT pc.outcome FROM mospay.provider_callbacks pc JOIN mospay.transactions t ON t.id = pc.transaction_id "
        "WHERE t.ref = %s::uuid ORDER BY pc.id", (ref,))]


@pytest.fixture
def pending_payment(integrator, downstream):
    downstream.behaviour = pending
    response = integrator.pay()
    assert response.status_code == 202, response.text
    return response.json()


def test_a_callback_settles_a_pending_payment(base_url, integrator, pending_payment, db):
    ref = pending_payment["transaction_ref"]

    response = notify(base_url, integrator, {"transaction_ref": ref, "status": "SUCCESS", "code": "PAID",
                                             "message": "paid", "data": {"receipt": "R1"}})

    assert response.status_code == 200 and response.json() == {"received": True, "outcome": "applied"}
    row = state(db, ref)
    assert row["status"] == "SUCCESS" and row["answer"]["code"] == "PAID" and row["answer"]["data"] == {"receipt": "R1"}
    status = requests.get(f"{base_url}/api/v1/payment/status/{pending_payment['unique_id']}",
                          auth=integrator.auth, headers=integrator.headers).json()
    assert status["status"] == "SUCCESS"
    assert records(db, ref) == ["applied"]
    logged = db("SELECT l.http_status, l.error_code FROM mospay.api_logs l JOIN mospay.transactions t "
                "ON t.id = l.transaction_id WHERE t.ref = %s::uuid AND l.path LIKE '/api/v1/callbacks/%%'", (ref,))
    assert logged == [{"http_status": 200, "error_code": None}]


def test_a_replayed_payment_returns_the_settled_answer(base_url, integrator, downstream, db):
    downstream.behaviour = pending
    message = integrator.message()
    ref = integrator.pay(message).json()["transaction_ref"]
    notify(base_url, integrator, {"transaction_ref": ref, "status": "FAILED", "code": "DECLINED"})

    replay = integrator.pay(message)

    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.status_code == 200 and replay.json()["status"] == "FAILED" and replay.json()["code"] == "DECLINED"


@pytest.mark.parametrize("first, late", [("SUCCESS", "FAILED"), ("FAILED", "SUCCESS"), ("SUCCESS", "SUCCESS")])
def test_a_late_callback_never_changes_a_final_payment(base_url, integrator, pending_payment, db, first, late):
    ref = pending_payment["transaction_ref"]
    assert notify(base_url, integrator, {"transaction_ref": ref, "status": first}).json()["outcome"] == "applied"
    settled = state(db, ref)

    response = notify(base_url, integrator, {"transaction_ref": ref, "status": late})

    assert response.status_code == 200 and response.json()["outcome"] == "ignored"
    assert state(db, ref) == settled
    assert records(db, ref) == ["applied", "ignored"]


def test_a_non_final_callback_is_noted_and_changes_nothing(base_url, integrator, pending_payment, db):
    ref = pending_payment["transaction_ref"]

    response = notify(base_url, integrator, {"transaction_ref": ref, "status": "PENDING"})

    assert response.json()["outcome"] == "ignored" and state(db, ref)["status"] == "PENDING"


def test_an_unknown_payment_is_settled_by_its_unique_id(base_url, integrator, downstream, db):
    downstream.behaviour = lambda path, headers, body: (500, {"oops": True}, 0)
    unknown = integrator.pay().json()
    assert unknown["status"] == "UNKNOWN"

    response = notify(base_url, integrator, {"unique_id": unknown["unique_id"], "status": "FAILED",
                                             "code": "NOT_ENOUGH_FUNDS"})

    assert response.json()["outcome"] == "applied"
    assert state(db, unknown["transaction_ref"])["status"] == "FAILED"


def test_a_provider_reference_finds_the_payment(base_url, integrator, pending_payment, db):
    assert db("SELECT provider_ref FROM mospay.transactions WHERE ref = %s::uuid",
              (pending_payment["transaction_ref"],))[0]["provider_ref"] == f"prov-{pending_payment['unique_id']}"

    response = notify(base_url, integrator, {"provider_ref": f"prov-{pending_payment['unique_id']}",
                                             "status": "SUCCESS"})

    assert response.json()["outcome"] == "applied"
    assert state(db, pending_payment["transaction_ref"])["status"] == "SUCCESS"


def test_a_callback_only_reaches_its_own_routes_payments(base_url, admin, integrator, pending_payment, db, downstream):
    other_client = admin.create_client()
    admin.assign(other_client, integrator.service)
    other = Integrator(base_url, other_client, integrator.service)

    response = notify(base_url, other, {"transaction_ref": pending_payment["transaction_ref"], "status": "FAILED"})

    assert response.status_code == 404 and response.json()["error"]["code"] == "TRANSACTION_NOT_FOUND"
    assert state(db, pending_payment["transaction_ref"])["status"] == "PENDING"


@pytest.mark.parametrize("path", ["nosuchapp/ms/payment", "UPPER/ms/payment", "a/b/c", "a/b/c?token=x"])
def test_an_unknown_callback_route_is_401_like_a_wrong_token(base_url, path):
    response = requests.post(f"{base_url}/api/v1/callbacks/{path}", json={"status": "SUCCESS"}, timeout=5)
    assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("raw, code", [
    (b"<xml/>", "MALFORMED_JSON"), (b"", "MALFORMED_JSON"), (b"[]", "NOT_AN_OBJECT"), (b"null", "NOT_AN_OBJECT"),
    (b'"text"', "NOT_AN_OBJECT"), (b'{"a":' * 100 + b"1" + b"}" * 100, "BAD_REQUEST"),
])
def test_a_callback_that_is_not_a_json_object_is_400_and_changes_nothing(base_url, integrator, pending_payment, db,
                                                                          raw, code):
    response = requests.post(callback_url(base_url, integrator), data=raw, timeout=5,
                             headers={"Content-Type": "application/json"})

    assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s", (pending_payment["transaction_ref"],))[0][
        "status"] == "PENDING"


def test_a_callback_naming_no_payment_is_refused_and_recorded(base_url, integrator, db):
    response = notify(base_url, integrator, {"status": "SUCCESS"})

    assert response.status_code == 422 and response.json()["error"]["code"] == "INVALID_CALLBACK_RESULT"
    assert db("SELECT outcome, detail FROM mospay.provider_callbacks WHERE client_service_id = "
              "(SELECT id FROM mospay.client_services WHERE callback_function = %s)",
              (f"CALLBACK_{integrator.client['app_id']}_{integrator.service['microservice']}_payment",))[0][
        "outcome"] == "failed"


def test_a_callback_while_the_payment_is_in_flight_is_409_and_changes_nothing(base_url, integrator, downstream, db):
    arrived, release = threading.Event(), threading.Event()

    def hold(path, headers, body):
        arrived.set()
        release.wait(10)
        return 200, {"status": "PENDING"}, 0

    downstream.behaviour = hold
    message = integrator.message()
    payer = threading.Thread(target=integrator.pay, args=(message,))
    payer.start()
    try:
        assert arrived.wait(10)
        response = notify(base_url, integrator, {"unique_id": message["f010"], "status": "SUCCESS"})
    finally:
        release.set()
        payer.join(10)

    assert response.status_code == 409 and response.json()["error"]["code"] == "NOT_READY"
    assert response.headers["Retry-After"]
    assert db("SELECT status FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]["status"] == \
        "PENDING"


def test_concurrent_contradicting_callbacks_settle_once(base_url, integrator, pending_payment, db):
    ref = pending_payment["transaction_ref"]
    statuses = ["SUCCESS", "FAILED"] * 5

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda s: notify(base_url, integrator, {"transaction_ref": ref, "status": s}),
                                statuses))

    outcomes = sorted(a.json()["outcome"] for a in answers)
    assert outcomes == ["applied"] + ["ignored"] * 9
    applied = db("SELECT status_after FROM mospay.provider_callbacks pc JOIN mospay.transactions t "
                 "ON t.id = pc.transaction_id WHERE t.ref = %s::uuid AND outcome = 'applied'", (ref,))
    assert state(db, ref)["status"] == applied[0]["status_after"]


# --- signatures ---------------------------------------------------------------------------------------

@pytest.fixture
def signed_route(admin, base_url, downstream):
    service = admin.create_service(downstream.url + "/pay",
                                   callback={"hmac_header": "X-Signature", "secret": SECRET})
    client = admin.create_client()
    admin.assign(client, service)
    return Integrator(base_url, client, service)


@pytest.mark.parametrize("signature", [None, "", "deadbeef", "sha256=" + "0" * 64])
def test_a_missing_or_wrong_signature_is_401_and_changes_nothing(base_url, signed_route, downstream, db, signature):
    downstream.behaviour = pending
    ref = signed_route.pay().json()["transaction_ref"]
    raw, _ = signed({"transaction_ref": ref, "status": "SUCCESS"})
    headers = {"Content-Type": "application/json", **({"X-Signature": signature} if signature is not None else {})}

    response = requests.post(callback_url(base_url, signed_route), data=raw, headers=headers, timeout=5)

    assert response.status_code == 401 and response.json()["error"]["code"] == "INVALID_SIGNATURE"
    assert state(db, ref)["status"] == "PENDING" and records(db, ref) == []


def test_a_body_signed_with_another_secret_or_changed_is_refused(base_url, signed_route, downstream, db):
    downstream.behaviour = pending
    ref = signed_route.pay().json()["transaction_ref"]
    raw, signature = signed({"transaction_ref": ref, "status": "FAILED"})
    _, wrong = signed({"transaction_ref": ref, "status": "FAILED"}, "another-secret-0123456789")
    tampered = raw.replace(b"FAILED", b"SUCCESS")

    for body, sig in ((raw, wrong), (tampered, signature)):
        response = requests.post(callback_url(base_url, signed_route), data=body, timeout=5,
                                 headers={"Content-Type": "application/json", "X-Signature": sig})
        assert response.status_code == 401
    assert state(db, ref)["status"] == "PENDING"


@pytest.mark.parametrize("prefix", ["", "sha256="])
def test_a_correctly_signed_callback_is_applied(base_url, signed_route, downstream, db, prefix):
    downstream.behaviour = pending
    ref = signed_route.pay().json()["transaction_ref"]
    raw, signature = signed({"transaction_ref": ref, "status": "SUCCESS"})

    response = requests.post(callback_url(base_url, signed_route), data=raw, timeout=5,
                             headers={"Content-Type": "application/json", "X-Signature": prefix + signature})

    assert response.status_code == 200 and state(db, ref)["status"] == "SUCCESS"


def test_the_provider_secret_is_never_stored_or_shown_in_clear(admin, signed_route, db):
    assert SECRET not in json.dumps(admin.get("/services").json())
    for table in ("services", "audit_log", "client_services"):
        dump = json.dumps([dict(r) for r in db(f"SELECT * FROM mospay.{table}")], default=str)
        assert SECRET not in dump, table


# --- M-Pesa-like STK push: the simulator calls back ------------------------------------------------

@pytest.fixture
def public_url(rt, base_url):
    """The switch tells providers its callback URL (MOSPAY_PUBLIC_URL) for the test's duration."""
    rt.registry.public_url = base_url
    rt.registry.reload()
    yield base_url
    rt.registry.public_url = None
    rt.registry.reload()


@pytest.fixture(scope="module")
def mpesa_server():
    server = start_mpesa_server()
    yield server
    server.shutdown()


def test_an_stk_push_is_settled_by_the_providers_callback(admin, base_url, mpesa_server, public_url, db):
    # No callback settings: the template's response function names the provider's reference itself.
    stk = mpesa_route(admin, base_url, mpesa_server)
    assert CALLBACK_URLS[(base_url, stk.client["app_id"], stk.service["microservice"], stk.service["route"])]

    paid = stk.pay(mpesa_message(stk, f004="1500")).json()
    declined = stk.pay(mpesa_message(stk, f004="98")).json()

    assert paid["status"] == declined["status"] == "PENDING"
    assert mpesa_server.simulator.received[-1]["CallBackURL"] == callback_url(base_url, stk)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and "PENDING" in (state(db, paid["transaction_ref"])["status"],
                                                         state(db, declined["transaction_ref"])["status"]):
        time.sleep(0.1)
    assert state(db, paid["transaction_ref"])["status"] == "SUCCESS"
    assert state(db, paid["transaction_ref"])["answer"]["data"]["mpesa_receipt_number"]
    assert state(db, declined["transaction_ref"])["answer"]["code"] == "CANCELLED_BY_PAYER"
    assert state(db, declined["transaction_ref"])["status"] == "FAILED"
