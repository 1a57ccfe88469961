"""Two instances behind a real load balancer (HAProxy, Debian's package) on one PostgreSQL.

Under load one instance is killed with SIGKILL, server workers and all. Payers retry what
failed with the same f010, as an integrator must. Afterwards: every payment has exactly one
row and reached the provider at most once, the balancer moved the traffic to the survivor,
and recovery settles the claims the dead instance held once their leases run out.
"""

import collections
import os
import signal
import socket
import subprocess
import threading
import time

import pytest
import requests

from gateway.follow_up.recovery import recover
from tests.conftest import tool_or_skip
from tests.factories import Integrator
from tests.servers import clean_env, free_port, start_app, stop_app, wait_until_loaded

PAYERS = 6


@pytest.fixture
def instances(config):
    """Two `python app.py` instances (one server worker each) on the test database: ``[(process, url)]``."""
    started = []
    try:
        for _ in range(2):
            env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, MOSPAY_WORKER=0, PORT=free_port(),
                            WEB_CONCURRENCY=1, MOSPAY_THREADS=8, MOSPAY_ROUTES_DIR=config.ROUTES_DIR,
                            MOSPAY_BCRYPT_ROUNDS=4)
            started.append((start_app(env), f"http://127.0.0.1:{env['PORT']}"))
        yield started
    finally:
        for process, _ in started:
            stop_app(process)


@pytest.fixture
def balancer(instances, tmp_path):
    """HAProxy round-robin over the instances, health-checked on /ready; retries only refused connections."""
    binary = tool_or_skip("haproxy")
    port = free_port()
    servers = "\n".join(f"    server s{n} {url.removeprefix('http://')} check inter 300ms fall 1 rise 2"
                        for n, (_, url) in enumerate(instances))
    config = tmp_path / "haproxy.cfg"
    # retry-on conn-failure (the default): a request is sent again only if it never reached an instance.
    config.write_text(f"""global
    maxconn 512

defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch

frontend payments
    bind 127.0.0.1:{port}
    default_backend switch

backend switch
    balance roundrobin
    option httpchk GET /ready
{servers}
""")
    process = subprocess.Popen([binary, "-db", "-f", str(config)], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert time.monotonic() < deadline and process.poll() is None, "haproxy did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def test_an_instance_killed_under_load_loses_and_doubles_nothing(admin, downstream, instances, balancer, db, rt):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    routes = db("SELECT count(*) AS n FROM mospay.client_services")[0]["n"]
    for _, url in instances:
        wait_until_loaded(url, routes)
    downstream.behaviour = lambda p, h, b: (200, {"status": "SUCCESS", "code": "OK"}, 0.05)
    payer = Integrator(balancer, client, service)
    answers = collections.defaultdict(list)  # f010 → every answer (status code or transport error)
    in_flight_elsewhere, after_kill = set(), []
    stop, killed = threading.Event(), threading.Event()

    def pay_until_answered():
        while not stop.is_set():
            message = payer.message()
            for _ in range(50):  # the same f010 again after anything that is not an answer
                try:
                    response = payer.pay(message, timeout=15)
                except requests.RequestException as error:
                    answers[message["f010"]].append(type(error).__name__)
                    time.sleep(0.1)
                    continue
                answers[message["f010"]].append(response.status_code)
                if response.status_code == 409 and response.json()["error"]["code"] == "IN_PROGRESS":
                    in_flight_elsewhere.add(message["f010"])  # claimed by the dead instance: its lease holds
                    break
                if response.status_code < 500:
                    if killed.is_set():
                        after_kill.append(response.status_code)
                    break
                time.sleep(0.1)

    threads = [threading.Thread(target=pay_until_answered) for _ in range(PAYERS)]
    for thread in threads:
        thread.start()
    time.sleep(2)
    victim, _ = instances[0]
    os.killpg(victim.pid, signal.SIGKILL)
    killed.set()
    deadline = time.monotonic() + 30  # the survivor carries on: until it has answered enough (a loaded machine is slow)
    while after_kill.count(200) < 15 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for thread in threads:
        thread.join(30)

    attempted = list(answers)
    rows = db("SELECT unique_id, status FROM mospay.transactions t JOIN mospay.clients c "
              "ON c.id = t.client_id WHERE c.app_id = %s", (client["app_id"],))
    per_id = collections.Counter(row["unique_id"] for row in rows)
    forwarded = collections.Counter(call["headers"].get("X-Transaction-Ref") for call in downstream.received)
    assert len(attempted) > 30 and after_kill.count(200) >= 15, (len(attempted), after_kill[:20])
    assert set(per_id) == set(attempted) and max(per_id.values()) == 1  # lost = 0, duplicated rows = 0
    assert max(forwarded.values()) == 1  # no payment reached the provider twice
    # The dead instance's claims: RECEIVED until their leases run out, then recovery settles them.
    held = {row["unique_id"] for row in rows if row["status"] == "RECEIVED"}
    assert held <= in_flight_elsewhere | {f010 for f010, seen in answers.items() if not isinstance(seen[-1], int)}
    db("UPDATE mospay.transactions SET lease_expires_at = now() - interval '1 second' "
       "WHERE status = 'RECEIVED' AND unique_id = ANY(%s) RETURNING id", (list(held),))
    recover(rt, older_than_seconds=0)
    finals = db("SELECT status FROM mospay.transactions t JOIN mospay.clients c ON c.id = t.client_id "
                "WHERE c.app_id = %s", (client["app_id"],))
    assert {row["status"] for row in finals} <= {"SUCCESS", "UNKNOWN"}
