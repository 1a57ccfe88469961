"""Outbound client callbacks: signed, retried with backoff, dead-lettered, listed and re-sent."""

import hashlib
import hmac
import json
import threading
import time

import pytest
import requests

from gateway.follow_up import deliveries, jobs
from tests.downstream import Downstream
from tests.factories import Integrator
from tests.follow_up.test_provider_callbacks import notify, pending


@pytest.fixture(scope="module")
def _receiver():
    server = Downstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


@pytest.fixture
def receiver(_receiver):
    """The client's own server, where its callbacks arrive."""
    _receiver.reset()
    _receiver.behaviour = lambda path, headers, body: (200, {"ok": True}, 0)
    return _receiver


@pytest.fixture
def subscriber(admin, base_url, downstream, receiver):
    """A client with a callback_url, its one-time secret, and a route answering PENDING."""
    client = admin.create_client(callback_url=receiver.url + "/hooks/mospay")
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    downstream.behaviour = pending
    return Integrator(base_url, client, service)


def run_worker(rt):
    return jobs.work(rt, once=True)


def settle(base_url, integrator, status="SUCCESS"):
    ref = integrator.pay().json()["transaction_ref"]
    assert notify(base_url, integrator, {"transaction_ref": ref, "status": status, "code": "DONE"}).status_code == 200
    return ref


def delivery_of(db, ref):
    return db("SELECT j.* FROM mospay.jobs j JOIN mospay.transactions t ON t.id = j.transaction_id "
              "WHERE t.ref = %s::uuid AND j.kind = 'client_callback'", (ref,))


def test_a_settled_payment_is_posted_to_the_client_signed(base_url, subscriber, receiver, rt, db):
    ref = settle(base_url, subscriber)

    run_worker(rt)

    [call] = [r for r in receiver.received if r["body"]["transaction_ref"] == ref]
    headers = {k.lower(): v for k, v in call["headers"].items()}
    timestamp, signature = headers["x-mospay-timestamp"], headers["x-mospay-signature"]
    raw = json.dumps(call["body"], separators=(",", ":")).encode()
    expected = hmac.new(subscriber.client["callback_secret"].encode(), f"{timestamp}.".encode() + raw,
                        hashlib.sha256).hexdigest()
    assert signature == f"sha256={expected}"
    assert abs(int(timestamp) - time.time()) < deliveries.REPLAY_WINDOW_SECONDS
    assert call["path"] == "/hooks/mospay" and headers["x-mospay-delivery"] == str(delivery_of(db, ref)[0]["id"])
    assert call["body"]["event"] == "transaction.settled" and call["body"]["status"] == "SUCCESS"
    assert call["body"]["unique_id"] and call["body"]["code"] == "DONE" and call["body"]["completed_at"]
    assert delivery_of(db, ref)[0]["state"] == "done"


def test_the_signing_secret_is_shown_once_and_sealed_at_rest(admin, subscriber, db):
    secret = subscriber.client["callback_secret"]
    assert secret.startswith("whsec_")
    assert secret not in json.dumps(admin.get(f"/clients/{subscriber.client['app_id']}").json())
    assert secret not in json.dumps(admin.get("/clients").json())
    for table in ("clients", "audit_log"):
        dump = json.dumps([dict(r) for r in db(f"SELECT * FROM mospay.{table}")], default=str)
        assert secret not in dump, table


def test_a_rotated_secret_signs_the_next_deliveries(base_url, admin, subscriber, receiver, rt):
    rotated = admin.post(f"/clients/{subscriber.client['app_id']}/callback-secret")
    assert rotated.status_code == 200
    new_secret = rotated.json()["callback_secret"]
    assert new_secret != subscriber.client["callback_secret"]
    ref = settle(base_url, subscriber)

    run_worker(rt)

    [call] = [r for r in receiver.received if r["body"]["transaction_ref"] == ref]
    headers = {k.lower(): v for k, v in call["headers"].items()}
    raw = json.dumps(call["body"], separators=(",", ":")).encode()
    assert headers["x-mospay-signature"] == "sha256=" + hmac.new(
        new_secret.encode(), headers["x-mospay-timestamp"].encode() + b"." + raw, hashlib.sha256).hexdigest()


def test_a_failed_delivery_is_retried_with_backoff_then_dead_lettered(base_url, subscriber, receiver, rt, db):
    receiver.behaviour = lambda path, headers, body: (503, {"busy": True}, 0)
    ref = settle(base_url, subscriber)

    run_worker(rt)

    job = delivery_of(db, ref)[0]
    assert job["state"] == "queued" and job["attempts"] == 1 and job["last_status"] == 503
    wait = (job["run_at"] - job["updated_at"]).total_seconds()
    assert 55 < wait < 65  # 1 minute first
    db("UPDATE mospay.jobs SET attempts = %s, run_at = now() WHERE id = %s RETURNING id",
       (len(deliveries.BACKOFF), job["id"]))

    run_worker(rt)

    job = delivery_of(db, ref)[0]
    assert job["state"] == "dead" and job["completed_at"] is not None


def test_the_backoff_runs_from_one_minute_to_six_hours():
    delays = [deliveries._retry({"id": 1, "attempts": n}, 500, "x") for n in range(1, len(deliveries.BACKOFF) + 2)]
    assert delays[0].delay_seconds == 60 and max(d.delay_seconds for d in delays) == 6 * 3600
    assert [d.state for d in delays] == ["queued"] * len(deliveries.BACKOFF) + ["dead"]
    assert all(a.delay_seconds <= b.delay_seconds for a, b in zip(delays, delays[1:-1], strict=False))


def test_an_unreachable_client_is_retried(base_url, admin, downstream, rt, db):
    client = admin.create_client(callback_url="http://127.0.0.1:9/closed")
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    downstream.behaviour = pending
    ref = settle(base_url, Integrator(base_url, client, service))

    run_worker(rt)

    job = delivery_of(db, ref)[0]
    assert job["state"] == "queued" and job["last_error"] == "connection"


def test_deliveries_are_listed_and_resent(base_url, admin, subscriber, receiver, rt, db):
    receiver.behaviour = lambda path, headers, body: (500, {}, 0)
    ref = settle(base_url, subscriber)
    run_worker(rt)
    job_id = delivery_of(db, ref)[0]["id"]
    db("UPDATE mospay.jobs SET state = 'dead' WHERE id = %s RETURNING id", (job_id,))

    listed = admin.get(f"/deliveries?app_id={subscriber.client['app_id']}&state=dead").json()["deliveries"]
    assert [(d["id"], d["transaction_ref"], d["status"], d["state"]) for d in listed] == \
        [(job_id, ref, "SUCCESS", "dead")]
    receiver.behaviour = lambda path, headers, body: (204, b"", 0)
    resent = admin.post(f"/deliveries/{job_id}/resend")
    assert resent.status_code == 200 and resent.json() == {"id": job_id, "state": "queued"}

    run_worker(rt)

    assert delivery_of(db, ref)[0]["state"] == "done"
    assert admin.post("/deliveries/999999999/resend").status_code == 404
    assert admin.get("/deliveries?state=bogus").status_code == 400


def test_a_client_without_callback_url_gets_no_delivery(base_url, integrator, downstream, db):
    downstream.behaviour = pending
    ref = settle(base_url, integrator)
    assert delivery_of(db, ref) == []


def test_the_callback_url_can_be_set_and_cleared(admin, integrator, receiver, db):
    path = f"/clients/{integrator.client['app_id']}/callback-url"
    assert admin.put(path, {"callback_url": receiver.url + "/x"}).json()["callback_url"] == receiver.url + "/x"
    assert admin.get(f"/clients/{integrator.client['app_id']}").json()["callback_url"] == receiver.url + "/x"
    assert admin.put(path, {"callback_url": "ftp://nope"}).status_code == 400
    assert admin.put(path, {"callback_url": None}).json()["callback_url"] is None


def test_two_workers_never_deliver_the_same_job_twice(base_url, subscriber, receiver, rt, db):
    refs = [settle(base_url, subscriber) for _ in range(12)]
    receiver.behaviour = lambda path, headers, body: (200, {}, 0.05)

    workers = [threading.Thread(target=jobs.run_due, args=(rt, 3)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    run_worker(rt)

    delivered = [r["body"]["transaction_ref"] for r in receiver.received if r["body"]["transaction_ref"] in refs]
    assert sorted(delivered) == sorted(refs)


def test_flask_worker_once_runs_the_due_jobs(app, base_url, subscriber, receiver, db):
    ref = settle(base_url, subscriber)

    result = app.test_cli_runner().invoke(args=["worker", "--once"])

    assert result.exit_code == 0 and "ran" in result.output
    assert delivery_of(db, ref)[0]["state"] == "done"


def test_cli_rotates_the_secret_and_lists_deliveries(app, base_url, subscriber, rt):
    ref = settle(base_url, subscriber)
    run_worker(rt)
    runner = app.test_cli_runner()

    rotated = runner.invoke(args=["clients", "callback-secret", subscriber.client["app_id"]])
    listed = runner.invoke(args=["deliveries", "list", "--app-id", subscriber.client["app_id"]])

    assert rotated.exit_code == 0 and "whsec_" in rotated.output
    assert listed.exit_code == 0 and ref in listed.output and "done" in listed.output


def test_an_admin_token_is_needed(base_url):
    assert requests.get(f"{base_url}/api/v1/admin/deliveries", timeout=5).status_code == 401
