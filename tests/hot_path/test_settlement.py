"""One settlement home: a compare-and-set from the expected state, with its jobs, in one statement."""

import concurrent.futures
import time

import pytest

from gateway.follow_up import recovery
from gateway.hot_path.settlement import FAILED, PENDING, RECEIVED, SUCCESS, UNKNOWN, Settlement, settle
from tests.factories import Integrator


def row_of(db, ref):
    return db("SELECT id, status, answer FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def jobs_of(db, transaction_id):
    return db("SELECT kind, state FROM mospay.jobs WHERE transaction_id = %s ORDER BY id", (transaction_id,))


@pytest.fixture
def pending_payment(integrator, downstream, db):
    """A payment the provider accepted and will settle later, for a client with a callback URL."""
    downstream.behaviour = lambda path, headers, body: (200, {"status": "PENDING", "code": "ACCEPTED"}, 0)
    db("UPDATE mospay.clients SET callback_url = 'http://127.0.0.1:9/cb' WHERE app_id = %s RETURNING id",
       (integrator.client["app_id"],))
    body = integrator.pay().json()
    assert body["status"] == PENDING
    return row_of(db, body["transaction_ref"])


def test_settling_from_the_expected_state_queues_the_client_callback_in_the_same_statement(rt, db, pending_payment):
    answer = {"status": SUCCESS, "code": "PAID", "message": "", "data": {}}
    with rt.db.connection() as conn:
        settled = settle(conn, pending_payment["id"], (PENDING,), Settlement.from_answer(answer, "r", "u"),
                         notify_client=True)

    assert settled["status"] == SUCCESS
    assert jobs_of(db, pending_payment["id"]) == [{"kind": "client_callback", "state": "queued"}]
    payload = db("SELECT payload FROM mospay.jobs WHERE transaction_id = %s", (pending_payment["id"],))[0]["payload"]
    assert payload["status"] == SUCCESS and payload["code"] == "PAID" and payload["completed_at"]


def test_a_payment_no_longer_in_the_expected_state_is_left_alone(rt, db, pending_payment):
    """The second of two settlers (a callback and a follow-up racing) changes nothing and queues nothing."""
    paid = {"status": SUCCESS, "code": "PAID", "message": "", "data": {}}
    declined = {"status": FAILED, "code": "DECLINED", "message": "", "data": {}}
    with rt.db.connection() as conn:
        first = settle(conn, pending_payment["id"], (PENDING, UNKNOWN), Settlement.from_answer(paid, "r", "u"),
                       notify_client=True)
        second = settle(conn, pending_payment["id"], (PENDING, UNKNOWN), Settlement.from_answer(declined, "r", "u"),
                        notify_client=True)

    assert first is not None and second is None
    assert row_of(db, first["ref"])["status"] == SUCCESS
    assert len(jobs_of(db, pending_payment["id"])) == 1


@pytest.fixture
def slow_integrator(admin, base_url, downstream):
    """A client whose provider takes a second to answer SUCCESS."""
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/slow", timeout_ms=3000)
    admin.assign(client, service)
    downstream.behaviour = lambda path, headers, body: (200, {"status": "SUCCESS", "code": "OK"}, 1.0)
    return Integrator(base_url, client, service)


def pay_while(integrator, db, message, meanwhile):
    """Send ``message`` and run ``meanwhile()`` once its claim is committed; returns both results."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        live = pool.submit(integrator.pay, message)
        deadline = time.monotonic() + 5
        while not db("SELECT 1 FROM mospay.transactions WHERE unique_id = %s AND status = %s",
                     (message["f010"], RECEIVED)) and time.monotonic() < deadline:
            time.sleep(0.02)
        done = meanwhile()
        return live.result(timeout=10), done


def test_recovery_never_takes_a_payment_still_in_its_lease(slow_integrator, rt, db):
    """`transactions recover --older-than 0` while a worker is forwarding: the live claim is left alone."""
    message = slow_integrator.message()

    response, recovered = pay_while(slow_integrator, db, message, lambda: recovery.recover(rt, older_than_seconds=0))

    assert recovered == {}
    assert response.json()["status"] == SUCCESS
    row = db("SELECT status, lease_owner FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]
    assert row["status"] == SUCCESS and row["lease_owner"]


def test_a_live_answer_after_its_lease_expired_never_overwrites_recovery(slow_integrator, rt, db):
    """Recovery settles a payment whose lease ran out (UNKNOWN, client told); the late live answer then loses
    the compare-and-set and the client is answered what is stored, never a second, different state."""
    message = slow_integrator.message()

    def expire_and_recover():
        db("UPDATE mospay.transactions SET lease_expires_at = now() - interval '1 second' WHERE unique_id = %s "
           "RETURNING id", (message["f010"],))
        return recovery.recover(rt, older_than_seconds=0)

    response, recovered = pay_while(slow_integrator, db, message, expire_and_recover)

    stored = db("SELECT status, answer FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]
    assert list(recovered.values()) == [UNKNOWN]
    assert stored["status"] == UNKNOWN
    assert response.json()["status"] == UNKNOWN and response.json() == stored["answer"]
