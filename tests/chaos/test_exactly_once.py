"""One unique id, many workers, two instances, one database: exactly one forward."""

import concurrent.futures
import threading

from tests.factories import Integrator
from tests.servers import wait_until_loaded

DUPLICATES = 100


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


