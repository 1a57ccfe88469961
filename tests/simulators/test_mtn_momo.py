"""The MTN-MoMo-like simulator, alone and behind the demo template."""

import threading

import pytest
import requests

from gateway.admin.demo import DEMO_SERVICE
from gateway.simulators import mtn_momo as simulator
from tests.factories import Integrator, unique_name


@pytest.fixture(scope="module")
def simulator_url():
    server = simulator.make_server(port=0, slow_seconds=1.0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.mark.parametrize("amount, payer, status, expected", [
    ("1500", "250788123456", 200, "SUCCESSFUL"),
    ("99", "250788123456", 200, "FAILED"),
    ("98", "250788123456", 200, "PENDING"),
    ("10", "250788123000", 200, "FAILED"),
    ("96", "250788123456", 500, None),
])
def test_outcomes_are_decided_by_amount_and_payer(simulator_url, amount, payer, status, expected):
    response = requests.post(simulator_url + simulator.PATH,
                             json={"amount": amount, "payer": {"partyId": payer}})
    assert response.status_code == status
    if expected:
        assert response.json()["status"] == expected


def test_a_malformed_answer_is_not_json(simulator_url):
    response = requests.post(simulator_url + simulator.PATH, json={"amount": "95", "payer": {"partyId": "2507"}})
    assert response.headers["Content-Type"] == "text/html" and response.text.startswith("<html>")


@pytest.fixture
def momo(admin, base_url, simulator_url):
    """A client on the demo's MTN-MoMo template, pointed at the simulator."""
    client = admin.create_client()
    service = admin.create_service(simulator_url + simulator.PATH, microservice=unique_name("momo"),
                                   template="mtn_momo_collection", fields=DEMO_SERVICE["fields"], timeout_ms=500)
    admin.assign(client, service)
    return Integrator(base_url, client, service)


@pytest.mark.parametrize("amount, http_status, status, code", [
    ("1500", 200, "SUCCESS", "SUCCESSFUL"),
    ("99", 200, "FAILED", "NOT_ENOUGH_FUNDS"),
    ("98", 202, "PENDING", "PENDING"),
    ("96", 502, "UNKNOWN", "PROVIDER_ERROR"),
    ("95", 502, "UNKNOWN", "UNREADABLE_ANSWER"),
])
def test_the_demo_template_maps_every_outcome(momo, amount, http_status, status, code):
    response = momo.pay(momo.message(f004=amount))

    assert response.status_code == http_status, response.text
    assert response.json()["status"] == status and response.json()["code"] == code


def test_a_slow_provider_is_unknown_with_the_demo_template(momo):
    response = momo.pay(momo.message(f004="97"))

    assert response.status_code == 504
    assert response.json()["status"] == "UNKNOWN" and response.json()["error"]["code"] == "UPSTREAM_TIMEOUT"


def test_the_request_function_builds_a_request_to_pay(momo, simulator_url):
    message = momo.message(f004="2500", f009="rent")
    paid = momo.pay(message).json()

    stored = requests.get(f"{simulator_url}{simulator.PATH}/{paid['transaction_ref']}").json()

    assert stored["amount"] == "2500" and stored["externalId"] == message["f010"]
    assert stored["payer"] == {"partyIdType": "MSISDN", "partyId": "250788123456"}
