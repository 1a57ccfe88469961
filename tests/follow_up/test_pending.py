"""A PENDING payment finishes by itself: by the route's STATUS function on its on_pending schedule, or by the
provider's own callback, whichever comes first; the client gets exactly one signed callback."""

import json
import time

import pytest
import requests
import yaml

from gateway.follow_up import jobs
from tests.factories import CALLBACK_URLS
from tests.providers import momo_message, momo_route, momo_server


@pytest.fixture(scope="module")
def momo():
    server = momo_server(result_seconds=0.3)
    yield server
    server.shutdown()


@pytest.fixture
def route(admin, base_url, momo, downstream):
    route = momo_route(admin, base_url, momo)
    assert admin.put(f"/clients/{route.client['app_id']}/callback-url",
                     {"callback_url": downstream.url + "/client-callbacks"}).status_code == 200
    return route


def execute(rt, statement, params):
    with rt.db.connection() as conn:
        conn.execute(statement, params)


def run_follow_ups_now(rt, db, ref):
    """Run the payment's follow-up now (instead of waiting for its schedule), as `flask worker` would."""
    execute(rt, "UPDATE mospay.jobs SET run_at = now() WHERE kind = 'unknown_outcome' AND state = 'queued' AND "
       "transaction_id = (SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (ref,))
    return jobs.run_due(rt)


def state(db, ref):
    return db("SELECT status, answer FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def client_callbacks(db, ref):
    return db("SELECT payload FROM mospay.jobs WHERE kind = 'client_callback' AND transaction_id = "
              "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (ref,))


def test_the_status_function_settles_a_pending_payment(route, rt, db, momo):
    paid = route.pay(momo_message(route)).json()
    assert paid["status"] == "PENDING" and paid["code"] == "ACCEPTED"
    job = db("SELECT payload FROM mospay.jobs WHERE kind = 'unknown_outcome' AND transaction_id = "
             "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))
    assert job[0]["payload"]["pending"] is True and job[0]["payload"]["schedule"][0] == 2  # the template's on_pending
    time.sleep(0.4)  # the payer approves

    run_follow_ups_now(rt, db, paid["transaction_ref"])

    settled = state(db, paid["transaction_ref"])
    assert settled["status"] == "SUCCESS" and settled["answer"]["data"]["financial_transaction_id"]
    [callback] = client_callbacks(db, paid["transaction_ref"])
    assert callback["payload"]["status"] == "SUCCESS"


def test_a_payment_still_pending_is_asked_again_later(route, rt, db):
    paid = route.pay(momo_message(route, f004="98")).json()  # the simulator's payer never answers
    run_follow_ups_now(rt, db, paid["transaction_ref"])

    job = db("SELECT state, payload, last_error FROM mospay.jobs WHERE kind = 'unknown_outcome' AND transaction_id = "
             "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))[0]
    assert job["state"] == "queued" and job["payload"]["step"] == 1
    assert state(db, paid["transaction_ref"])["status"] == "PENDING"


def test_past_its_deadline_a_pending_payment_is_unknown_for_an_operator(route, rt, db):
    paid = route.pay(momo_message(route, f004="98")).json()
    execute(rt, "UPDATE mospay.jobs SET created_at = now() - interval '2 hours' WHERE transaction_id = "
       "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))

    run_follow_ups_now(rt, db, paid["transaction_ref"])

    assert state(db, paid["transaction_ref"])["status"] == "UNKNOWN"
    assert db("SELECT state FROM mospay.jobs WHERE kind = 'unknown_outcome' AND transaction_id = "
              "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],)) == \
        [{"state": "manual"}]
    assert client_callbacks(db, paid["transaction_ref"]) == []


def mtn_notification(momo, route, message):
    """What MTN PUTs to X-Callback-Url: the request-to-pay's final state, as its status query shows it."""
    payment = next(p for p in momo.simulator.payments.values() if p["body"]["externalId"] == message["f010"])
    with momo.simulator.lock:
        return momo.simulator._view(payment)


def test_mtn_s_callback_settles_first_and_the_follow_up_finds_it_final(base_url, route, rt, db, momo):
    message = momo_message(route)
    paid = route.pay(message).json()
    time.sleep(0.4)
    url = CALLBACK_URLS[(base_url, route.client["app_id"], route.service["microservice"], route.service["route"])]

    notified = requests.put(url, data=json.dumps(mtn_notification(momo, route, message)),
                            headers={"Content-Type": "application/json"}, timeout=10)
    run_follow_ups_now(rt, db, paid["transaction_ref"])

    assert notified.status_code == 200 and notified.json()["outcome"] == "applied", notified.text
    assert state(db, paid["transaction_ref"])["status"] == "SUCCESS"
    assert len(client_callbacks(db, paid["transaction_ref"])) == 1  # one signed callback, never two
    job = db("SELECT state, last_error FROM mospay.jobs WHERE kind = 'unknown_outcome' AND transaction_id = "
             "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))[0]
    assert job["state"] == "done" and job["last_error"].startswith("already")


def test_a_callback_after_the_status_query_changes_nothing(base_url, route, rt, db, momo):
    message = momo_message(route, f004="99")  # the payer has not enough funds
    paid = route.pay(message).json()
    time.sleep(0.4)
    run_follow_ups_now(rt, db, paid["transaction_ref"])
    url = CALLBACK_URLS[(base_url, route.client["app_id"], route.service["microservice"], route.service["route"])]

    late = requests.put(url, data=json.dumps(mtn_notification(momo, route, message)),
                        headers={"Content-Type": "application/json"}, timeout=10)

    assert late.status_code == 200 and late.json()["outcome"] == "ignored"
    settled = state(db, paid["transaction_ref"])
    assert settled["status"] == "FAILED" and settled["answer"]["code"] == "NOT_ENOUGH_FUNDS"
    assert len(client_callbacks(db, paid["transaction_ref"])) == 1


def test_the_route_file_names_the_status_function_and_its_schedule(route, config):
    """What assignment wrote to routes_config/: the STATUS function and on_pending, valid as they stand, and enough
    for on_unknown: status_query without a status URL."""
    from gateway.admin import routes_config

    key = {"app_id": route.client["app_id"], **{k: route.service[k] for k in ("microservice", "service", "route")}}
    document = yaml.safe_load(routes_config.route_path(config.ROUTES_DIR, key).read_text())

    assert document["functions"]["status"] == f"STATUS_{key['app_id']}_{key['microservice']}_payment"
    assert document["on_pending"] == {"schedule": [2, 5, 10, 30, 60, 300], "deadline_seconds": 3600}
    routes_config.validate_document({**document, "on_unknown": {"policy": "status_query"}}, "route.yaml")
    with pytest.raises(routes_config.RouteConfigError, match="functions.status"):
        routes_config.validate_document({**document, "functions": {**document["functions"], "status": "STATUS_x"}},
                                        "route.yaml")


def test_a_disbursement_transfer_settles_the_same_way(admin, base_url, momo, rt, db):
    transfer = momo_route(admin, base_url, momo, template="mtn_momo_disbursement")
    paid = transfer.pay(momo_message(transfer, f004="99")).json()  # the payee's wallet refuses: FAILED
    sent = momo.simulator.payments[("disbursement", paid["transaction_ref"])]["body"]
    time.sleep(0.4)

    run_follow_ups_now(rt, db, paid["transaction_ref"])

    assert paid["status"] == "PENDING" and sent["payee"] == {"partyIdType": "MSISDN", "partyId": "250788123456"}
    settled = state(db, paid["transaction_ref"])
    assert (settled["status"], settled["answer"]["code"]) == ("FAILED", "NOT_ENOUGH_FUNDS")
