"""A worker killed between forward and answer: the row survives and `recover` settles it."""

import os
import signal
import threading

import pytest
import requests
import yaml

from gateway.admin import routes_config
from gateway.follow_up.recovery import recover
from tests.factories import Integrator
from tests.servers import clean_env, free_port, start_app, stop_app, worker_pids


@pytest.fixture
def switch_process(config):
    """The switch as `python app.py` (granian), on the test database."""
    env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, MOSPAY_WORKER=0, PORT=free_port(),
                    WEB_CONCURRENCY=1, MOSPAY_ROUTES_DIR=config.ROUTES_DIR, MOSPAY_BCRYPT_ROUNDS=4)
    holder = {"env": env}
    yield holder
    if "process" in holder:
        stop_app(holder["process"])


def kill_worker_mid_payment(holder, integrator, downstream):
    """Pay through the app process and SIGKILL its worker while the provider holds the call."""
    received, release = threading.Event(), threading.Event()

    def hold(path, headers, body):
        if path.startswith("/pay"):
            received.set()
            release.wait(10)
        return 200, {"status": "SUCCESS", "code": "OK"}, 0

    downstream.behaviour = hold
    holder["process"] = process = start_app(holder["env"])
    message = integrator.message()
    remote = Integrator(f"http://127.0.0.1:{holder['env']['PORT']}", integrator.client, integrator.service)
    outcome = {}
    payer = threading.Thread(target=lambda: outcome.update(error=_pay(remote, message)))
    payer.start()
    assert received.wait(10), "the payment never reached the provider"
    for pid in worker_pids(process):
        os.kill(pid, signal.SIGKILL)
    release.set()
    payer.join(10)
    assert outcome["error"], "the client should have lost its connection"
    return message


def _pay(integrator, message):
    try:
        integrator.pay(message, timeout=10)
    except requests.RequestException as error:
        return type(error).__name__
    return None


def let_lease_expire(db, message):
    """Time passes: the killed worker's claim lease runs out, so recovery may take the payment."""
    db("UPDATE mospay.transactions SET lease_expires_at = now() - interval '1 second' WHERE unique_id = %s "
       "RETURNING id", (message["f010"],))


def status_of(db, integrator, unique_id):
    return db("SELECT t.status FROM mospay.transactions t JOIN mospay.clients c ON c.id = t.client_id "
              "WHERE c.app_id = %s AND t.unique_id = %s", (integrator.client["app_id"], unique_id))[0]["status"]


def test_without_a_status_query_the_payment_becomes_unknown(switch_process, integrator, downstream, rt, db):
    message = kill_worker_mid_payment(switch_process, integrator, downstream)
    assert status_of(db, integrator, message["f010"]) == "RECEIVED"  # nothing accepted is ever missing a row
    assert recover(rt, older_than_seconds=0) == {}, "the claim's lease has not run out yet"
    let_lease_expire(db, message)

    settled = recover(rt, older_than_seconds=0)

    assert "UNKNOWN" in settled.values()
    assert status_of(db, integrator, message["f010"]) == "UNKNOWN"
    replay = integrator.pay(message)
    assert replay.headers["Idempotent-Replayed"] == "true" and replay.json()["status"] == "UNKNOWN"


def test_a_declared_status_query_settles_the_real_outcome(switch_process, integrator, downstream, rt, db, app,
                                                          config):
    path = routes_config.route_path(config.ROUTES_DIR, {
        "app_id": integrator.client["app_id"], "microservice": integrator.service["microservice"],
        "service": "collection", "route": "payment"})
    document = yaml.safe_load(path.read_text())
    document["status_query"] = {"url": downstream.url + "/status/{transaction_ref}"}
    path.write_text(routes_config.dump(document))
    assert app.test_cli_runner().invoke(args=["route-config", "apply"]).exit_code == 0
    message = kill_worker_mid_payment(switch_process, integrator, downstream)
    downstream.behaviour = lambda p, h, b: (200, {"status": "SUCCESS", "code": "FOUND", "message": "settled"}, 0)
    let_lease_expire(db, message)

    recover(rt, older_than_seconds=0)

    assert status_of(db, integrator, message["f010"]) == "SUCCESS"
    assert downstream.received[-1]["path"].startswith("/status/")
    assert integrator.pay(message).json()["code"] == "FOUND"
