"""Issue 11, point 6: lockout cannot be turned into a weapon against another client.

The attack: behind a load balancer every caller had the balancer's address, so ten bad passwords from anyone
locked a client out; and a server still sending the secret from before a rotation locked out the new one.
Here the switch sits behind one trusted proxy (``MOSPAY_TRUSTED_PROXIES=1``): the loopback peer of every request
is "the load balancer", and ``X-Forwarded-For`` carries the address it saw.
"""

import shutil
import subprocess
import threading
import time

import pytest
import requests
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.serving import make_server

from config import Config
from gateway import create_app
from tests.conftest import TEST_SETTINGS
from tests.portal.conftest import PortalSession, create_user
from tests.servers import free_port

ATTACKER, VICTIM = "203.0.113.9", "198.51.100.7"


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"), TRUSTED_PROXIES=1,
                  **TEST_SETTINGS)


def via_balancer(address):
    """The header the load balancer adds: what the client sent (here: a lie) and then the peer it saw."""
    return {"X-Forwarded-For": f"{VICTIM}, {address}"}


def pay_as(integrator, address, auth):
    return requests.post(f"{integrator.base_url}/api/v1/payment/process", json=integrator.message(), auth=auth,
                         headers={**integrator.headers, **via_balancer(address)}, timeout=10)


def pay(integrator, address, password=None):
    return pay_as(integrator, address, (integrator.auth[0], password) if password is not None else integrator.auth)


def test_an_attacker_behind_the_balancer_cannot_lock_the_client_out(integrator):
    for guess in range(12):
        assert pay(integrator, ATTACKER, f"guess-{guess}").status_code in (401, 429)
    assert pay(integrator, ATTACKER).status_code == 429  # the attacker's own address is locked

    answer = pay(integrator, VICTIM)

    assert answer.status_code == 200, answer.text


def test_a_stale_secret_after_rotation_does_not_lock_out_the_new_one(admin, integrator):
    old_auth = integrator.auth
    rotated = admin.post(f"/clients/{integrator.client['app_id']}/credentials").json()
    integrator.auth = (rotated["username"], rotated["password"])

    stale = [pay_as(integrator, VICTIM, old_auth).status_code for _ in range(15)]
    fresh = pay(integrator, VICTIM)  # the same server, its configuration updated

    assert stale[0] == 401 and stale[-1] == 429  # the old secret is refused, cheaply once locked
    assert fresh.status_code == 200, fresh.text


def test_the_proxy_hop_count_is_a_setting_off_by_default(config):
    assert not isinstance(create_app(Config(**{**vars(config), "TRUSTED_PROXIES": 0})).wsgi_app, ProxyFix)
    two = create_app(Config(**{**vars(config), "TRUSTED_PROXIES": 2})).wsgi_app
    assert isinstance(two, ProxyFix) and two.x_for == 2


@pytest.fixture
def redis_url():
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed")
    port = free_port()
    server = subprocess.Popen(["redis-server", "--port", str(port), "--save", "", "--appendonly", "no"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            import redis
            redis.Redis(port=port).ping()
            break
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait(5)


def serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_portal_sign_in_guesses_spread_over_two_instances_share_one_count(config, admin, redis_url):
    username = create_user(admin, "viewer")
    apps = [create_app(Config(**{**vars(config), "REDIS_URL": redis_url})) for _ in range(2)]
    servers = [serve(app) for app in apps]
    try:
        sessions = [PortalSession(f"http://127.0.0.1:{s.server_port}") for s in servers]
        for guess in range(5):  # alternately on each instance, as a load balancer spreads them
            session = sessions[guess % 2]
            failed = session.post("/portal/login", headers=via_balancer(ATTACKER), data={
                "username": username, "password": f"guess-{guess}", "csrf_token": session.token("/portal/login")})
            assert failed.status_code == 401
        for session in sessions:
            locked = session.post("/portal/login", headers=via_balancer(ATTACKER), data={
                "username": username, "password": "first-password-1", "csrf_token": session.token("/portal/login")})
            assert locked.status_code == 429
        victim = sessions[0].post("/portal/login", headers=via_balancer(VICTIM), data={
            "username": username, "password": "first-password-1", "csrf_token": sessions[0].token("/portal/login")})
        assert victim.status_code == 302
    finally:
        for server, app in zip(servers, apps, strict=True):
            server.shutdown()
            app.extensions["mospay"].stop()
