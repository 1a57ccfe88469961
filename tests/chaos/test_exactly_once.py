"""One unique id, many workers, two instances, one database: exactly one forward."""

import concurrent.futures
import threading
import time

import pytest
import requests

from tests.factories import Integrator
from tests.servers import clean_env, free_port, start_app, stop_app

DUPLICATES = 100


@pytest.fixture
def two_instances(config, tmp_path):
    """Two `python app.py` instances, two gunicorn workers each, on the test database."""
    processes = []
    try:
        for index in range(2):
            env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, PORT=free_port(), WEB_CONCURRENCY=2,
                            MOSPAY_THREADS=16, MOSPAY_ROUTES_DIR=tmp_path / str(index), MOSPAY_BCRYPT_ROUNDS=4)
            processes.append((start_app(env), env))
        yield [f"http://127.0.0.1:{env['PORT']}" for _, env in processes]
    finally:
        for process, _ in processes:
            stop_app(process)


def test_concurrent_duplicates_across_instances_forward_once(admin, base_url, downstream, two_instances, db):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    downstream.behaviour = lambda p, h, b: (200, {"status": "SUCCESS", "code": "OK"}, 0.5)
    payers = [Integrator(url, client, service) for url in two_instances]
    routes = db("SELECT count(*) AS n FROM mospay.client_services")[0]["n"]
    for url in two_instances:
        wait_until_loaded(url, routes)  # the instances learn of the new route by LISTEN/NOTIFY
    message = payers[0].message()
    start = threading.Barrier(DUPLICATES)

    def pay(index):
        start.wait()
        return payers[index % 2].pay(message, timeout=30)

    with concurrent.futures.ThreadPoolExecutor(DUPLICATES) as pool:
        responses = list(pool.map(pay, range(DUPLICATES)))

    assert len(downstream.received) == 1
    codes = [r.status_code for r in responses]
    assert set(codes) <= {200, 409} and codes.count(200) >= 1
    assert all(r.json()["error"]["code"] == "IN_PROGRESS" for r in responses if r.status_code == 409)
    rows = db("SELECT count(*) AS n FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))
    assert rows[0]["n"] == 1


def wait_until_loaded(url, routes, timeout=5.0):
    """Until the instance's route table holds ``routes`` routes (as /ready reports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{url}/ready", timeout=2).json()["checks"]["routes_loaded"] == routes:
            return
        time.sleep(0.05)
    raise AssertionError("the instance never loaded the new route")
