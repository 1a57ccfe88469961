"""The MTN MoMo simulator speaks MTN's Open API: provisioning, tokens, 202 request-to-pay, status, 401 and 409."""

import threading
import time
import uuid

import pytest
import requests

from gateway.simulators import mtn_momo as simulator

SUBSCRIPTION = {"Ocp-Apim-Subscription-Key": "any-portal-issued-key"}


@pytest.fixture(scope="module")
def momo():
    server = simulator.make_server(port=0, slow_seconds=1.0, result_seconds=0.2, token_seconds=3600)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def url(server, path):
    return f"http://127.0.0.1:{server.server_address[1]}{path}"


def provision(server):
    """An API user and key made the way MTN's sandbox wants it: POST /v1_0/apiuser, then …/apikey."""
    user = str(uuid.uuid4())
    created = requests.post(url(server, "/v1_0/apiuser"), json={"providerCallbackHost": "example.com"},
                            headers={**SUBSCRIPTION, "X-Reference-Id": user})
    assert created.status_code == 201 and created.content == b""
    key = requests.post(url(server, f"/v1_0/apiuser/{user}/apikey"), headers=SUBSCRIPTION)
    assert key.status_code == 201
    return user, key.json()["apiKey"]


def token(server, user, key, product="collection"):
    answer = requests.post(url(server, f"/{product}/token/"), auth=(user, key), headers=SUBSCRIPTION)
    assert answer.status_code == 200, answer.text
    return answer.json()


def request_to_pay(server, access_token, amount="1500", party="250788123456", reference=None, **headers):
    reference = reference or str(uuid.uuid4())
    response = requests.post(url(server, simulator.PATH), json={
        "amount": amount, "currency": "RWF", "externalId": "order-1",
        "payer": {"partyIdType": "MSISDN", "partyId": party}, "payerMessage": "m", "payeeNote": "n"},
        headers={**SUBSCRIPTION, "Authorization": f"Bearer {access_token}", "X-Reference-Id": reference,
                 "X-Target-Environment": "sandbox", **headers})
    return reference, response


def status(server, access_token, reference):
    return requests.get(url(server, f"{simulator.PATH}/{reference}"), headers={
        **SUBSCRIPTION, "Authorization": f"Bearer {access_token}", "X-Target-Environment": "sandbox"})


def test_an_api_user_is_provisioned_once_and_its_key_gets_a_token(momo):
    user, key = provision(momo)

    again = requests.post(url(momo, "/v1_0/apiuser"), json={"providerCallbackHost": "example.com"},
                          headers={**SUBSCRIPTION, "X-Reference-Id": user})
    granted = token(momo, user, key)
    wrong = requests.post(url(momo, "/collection/token/"), auth=(user, "not-the-key"), headers=SUBSCRIPTION)

    assert again.status_code == 409 and again.json()["code"] == "RESOURCE_ALREADY_EXIST"
    assert granted["token_type"] == "access_token" and granted["expires_in"] == 3600
    assert wrong.status_code == 401 and wrong.json() == {"error": "login_failed"}
    assert requests.get(url(momo, f"/v1_0/apiuser/{user}"), headers=SUBSCRIPTION).json()["targetEnvironment"] \
        == "sandbox"


def test_a_request_to_pay_is_accepted_empty_then_settles(momo):
    access = token(momo, *provision(momo))["access_token"]

    reference, accepted = request_to_pay(momo, access)
    early = status(momo, access, reference).json()
    time.sleep(0.3)
    late = status(momo, access, reference).json()

    assert accepted.status_code == 202 and accepted.content == b""
    assert early["status"] == "PENDING"
    assert late["status"] == "SUCCESSFUL" and late["financialTransactionId"] and late["externalId"] == "order-1"


def test_the_simulator_refuses_what_mtn_refuses(momo):
    access = token(momo, *provision(momo))["access_token"]
    reference, _ = request_to_pay(momo, access)

    assert request_to_pay(momo, access, reference=reference)[1].status_code == 409  # a reused X-Reference-Id
    assert request_to_pay(momo, "forged-token")[1].status_code == 401
    assert request_to_pay(momo, access, reference="not-a-uuid")[1].status_code == 400
    missing_key = requests.post(url(momo, simulator.PATH), json={}, headers={"Authorization": f"Bearer {access}"})
    assert missing_key.status_code == 401 and missing_key.json()["statusCode"] == 401
    disbursement_only = request_to_pay(momo, token(momo, *provision(momo), product="disbursement")["access_token"])
    assert disbursement_only[1].status_code == 401  # a token is for its product only


@pytest.mark.parametrize("amount, party, final", [
    ("99", "250788123456", ("FAILED", "NOT_ENOUGH_FUNDS")),
    ("10", "46733123451", ("FAILED", "APPROVAL_REJECTED")),
    ("10", "46733123452", ("FAILED", "EXPIRED")),
    ("10", "250788123000", ("FAILED", "PAYER_NOT_FOUND")),
    ("98", "250788123456", ("PENDING", None)),
])
def test_outcomes_follow_the_documented_tables(momo, amount, party, final):
    access = token(momo, *provision(momo))["access_token"]
    reference, _ = request_to_pay(momo, access, amount=amount, party=party)
    time.sleep(0.3)
    answer = status(momo, access, reference).json()
    assert (answer["status"], answer.get("reason")) == final


def test_a_revoked_token_is_refused(momo):
    access = token(momo, *provision(momo))["access_token"]
    momo.simulator.revoke_tokens()
    assert request_to_pay(momo, access)[1].status_code == 401
