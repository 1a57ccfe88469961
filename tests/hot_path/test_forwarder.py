"""Every downstream fault maps to a defined state and code; retries only where safe."""

import socket
import time

import pytest
import yaml

from gateway.admin import routes_config
from tests.downstream import ResettingServer
from tests.factories import Integrator


def closed_port_url():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}/pay"


def integrator_for(admin, base_url, url, **service):
    client = admin.create_client()
    created = admin.create_service(url, **service)
    admin.assign(client, created)
    return Integrator(base_url, client, created)


@pytest.mark.parametrize("behaviour, http_status, status, code", [
    (lambda p, h, b: (500, {"oops": True}, 0), 502, "UNKNOWN", "UNREADABLE_ANSWER"),
    (lambda p, h, b: (200, b"<html>not json</html>", 0), 502, "UNKNOWN", "UNREADABLE_ANSWER"),
    (lambda p, h, b: (200, b"x" * (2 * 1024 * 1024), 0), 502, "UNKNOWN", "UPSTREAM_UNAVAILABLE"),
    (lambda p, h, b: (404, {"status": "FAILED", "code": "NO_ROUTE"}, 0), 200, "FAILED", "NO_ROUTE"),
])
def test_provider_faults_map_to_defined_states(integrator, downstream, behaviour, http_status, status, code):
    downstream.behaviour = behaviour

    response = integrator.pay()

    assert response.status_code == http_status, response.text
    body = response.json()
    assert body["status"] == status
    assert (body.get("code") or body["error"]["code"]) == code


def test_a_reset_connection_is_unknown(admin, base_url):
    resetting = ResettingServer()
    try:
        integrator = integrator_for(admin, base_url, resetting.url + "/pay")
        response = integrator.pay()
    finally:
        resetting.close()
    assert response.status_code == 502 and response.json()["status"] == "UNKNOWN"


def test_the_circuit_opens_after_repeated_failures_and_answers_fast(admin, base_url, db):
    integrator = integrator_for(admin, base_url, closed_port_url())
    for _ in range(5):
        assert integrator.pay().json()["error"]["code"] == "UPSTREAM_UNAVAILABLE"

    started = time.monotonic()
    response = integrator.pay()

    assert response.status_code == 503 and time.monotonic() - started < 0.5
    assert response.json()["error"]["code"] == "UPSTREAM_CIRCUIT_OPEN" and response.json()["status"] == "FAILED"
    assert response.headers["Retry-After"]


def test_a_post_is_not_retried_after_a_timeout_unless_the_route_allows_it(integrator, downstream, app, config):
    downstream.behaviour = lambda p, h, b: (200, {"status": "SUCCESS"}, 3)
    set_retry(app, config, integrator, {"max_attempts": 3, "on": ["timeout"], "allow_post": False})

    response = integrator.pay(timeout=30)

    assert response.json()["status"] == "UNKNOWN" and len(downstream.received) == 1


def test_a_5xx_is_retried_when_the_route_allows_it_for_post(admin, base_url, app, config, downstream):
    integrator = integrator_for(admin, base_url, downstream.url + "/pay")
    set_retry(app, config, integrator, {"max_attempts": 3, "on": ["5xx"], "allow_post": True})
    answers = iter([(503, {"busy": True}, 0), (200, {"status": "SUCCESS", "code": "OK"}, 0)])
    downstream.behaviour = lambda p, h, b: next(answers)

    response = integrator.pay()

    assert response.json()["status"] == "SUCCESS" and len(downstream.received) == 2


def set_retry(app, config, integrator, retry):
    """Edit the route's YAML and apply it, as an operator would."""
    path = routes_config.route_path(config.ROUTES_DIR, {
        "app_id": integrator.client["app_id"], "microservice": integrator.service["microservice"],
        "service": "collection", "route": "payment"})
    document = yaml.safe_load(path.read_text())
    document["retry"] = retry
    if integrator.service["timeout_ms"] > 1000:
        document["upstream"]["timeout_ms"] = 1000
    path.write_text(routes_config.dump(document))
    assert app.test_cli_runner().invoke(args=["route-config", "apply"]).exit_code == 0
