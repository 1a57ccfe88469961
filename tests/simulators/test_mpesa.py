"""Daraja M-Pesa Express: the simulator speaks Daraja's dialect, and the template pays through it end to end."""

import base64
import time

import pytest
import requests

from gateway.follow_up import jobs
from gateway.simulators import mpesa
from tests.downstream import Downstream
from tests.providers import base_url as url_of
from tests.providers import mpesa_credentials, mpesa_message, mpesa_route, mpesa_server, serve


@pytest.fixture(scope="module")
def daraja():
    server = mpesa_server()
    yield server
    server.shutdown()


def oauth(server, key, secret):
    return requests.get(url_of(server) + mpesa.OAUTH_PATH + "?grant_type=client_credentials", auth=(key, secret))


def push_body(callback_url, amount=98, stamp="20250101120000"):
    return {"BusinessShortCode": mpesa.SANDBOX_SHORTCODE, "Timestamp": stamp,
            "Password": mpesa.password(mpesa.SANDBOX_SHORTCODE, mpesa.SANDBOX_PASSKEY, stamp),
            "TransactionType": "CustomerPayBillOnline", "Amount": amount, "PartyA": "254712345678",
            "PartyB": mpesa.SANDBOX_SHORTCODE, "PhoneNumber": "254712345678", "CallBackURL": callback_url,
            "AccountReference": "A1", "TransactionDesc": "t"}


def test_oauth_grants_a_token_to_a_registered_app_only(daraja):
    credentials = mpesa_credentials(daraja)

    granted = oauth(daraja, credentials["consumer_key"], credentials["consumer_secret"])
    refused = oauth(daraja, credentials["consumer_key"], "wrong")

    assert granted.status_code == 200 and granted.json()["expires_in"] == "3599" and granted.json()["access_token"]
    assert refused.status_code == 400 and refused.json()["errorCode"] == "400.008.01"
    assert set(refused.json()) == {"requestId", "errorCode", "errorMessage"}


def test_the_simulator_checks_the_token_and_the_password_then_settles_and_calls_back(daraja):
    credentials = mpesa_credentials(daraja)
    token = oauth(daraja, credentials["consumer_key"], credentials["consumer_secret"]).json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    receiver = serve(Downstream())
    try:
        body = push_body(receiver.url + "/mpesa/result")
        no_token = requests.post(url_of(daraja) + mpesa.PROCESS_PATH, json=body)
        wrong_password = requests.post(url_of(daraja) + mpesa.PROCESS_PATH, headers=bearer, json={
            **body, "Password": base64.b64encode(b"174379not-the-passkey20250101120000").decode()})
        pushed = requests.post(url_of(daraja) + mpesa.PROCESS_PATH, headers=bearer, json=body).json()
        query = {k: body[k] for k in ("BusinessShortCode", "Password", "Timestamp")} | {
            "CheckoutRequestID": pushed["CheckoutRequestID"]}
        early = requests.post(url_of(daraja) + mpesa.QUERY_PATH, headers=bearer, json=query)
        deadline = time.monotonic() + 5
        while not receiver.received and time.monotonic() < deadline:
            time.sleep(0.05)
        late = requests.post(url_of(daraja) + mpesa.QUERY_PATH, headers=bearer, json=query).json()
    finally:
        receiver.shutdown()

    assert no_token.status_code == 401 and no_token.json()["errorCode"] == "404.001.03"
    assert wrong_password.status_code == 400 and wrong_password.json()["errorMessage"].endswith("Invalid Password")
    assert pushed["ResponseCode"] == "0"
    assert early.status_code == 500 and early.json()["errorCode"] == "500.001.1001"
    assert late["ResultCode"] == "1032"
    callback = receiver.received[0]["body"]["Body"]["stkCallback"]
    assert callback["CheckoutRequestID"] == pushed["CheckoutRequestID"] and callback["ResultCode"] == 1032


# --- through the switch ----------------------------------------------------------------------------

@pytest.fixture
def stk(admin, base_url, daraja):
    return mpesa_route(admin, base_url, daraja)


def outcome(response):
    body = response.json()
    return response.status_code, body.get("status"), body.get("code") or body.get("error", {}).get("details", {}).get(
        "reason")


def test_an_stk_push_is_signed_with_the_vault_s_passkey_and_pending(stk, daraja):
    response = stk.pay(mpesa_message(stk, f004="1500.00", f005="+254712345678"))

    assert outcome(response) == (202, "PENDING", "STK_PUSH_SENT"), response.text
    sent = daraja.simulator.received[-1]
    assert response.json()["data"]["checkout_request_id"] in daraja.simulator.checkouts
    assert sent["Amount"] == 1500 and sent["PhoneNumber"] == sent["PartyA"] == "254712345678"
    assert sent["CallBackURL"].startswith("https://callback.invalid/")  # no MOSPAY_PUBLIC_URL: a placeholder


def test_the_token_is_fetched_once_for_many_pushes(admin, base_url):
    fresh = mpesa_server()
    try:
        stk = mpesa_route(admin, base_url, fresh)
        answers = [stk.pay(mpesa_message(stk)) for _ in range(3)]
        assert [a.status_code for a in answers] == [202] * 3
        assert fresh.simulator.token_grants == 1
    finally:
        fresh.shutdown()


@pytest.mark.parametrize("fields, expected", [
    ({"f005": "254712345000"}, (200, "FAILED", "PROVIDER_REJECTED")),
    ({"f004": "96"}, (502, "UNKNOWN", "PROVIDER_ERROR")),
    ({"f004": "94"}, (502, "UNKNOWN", "UNREADABLE_ANSWER")),
])
def test_an_stk_push_maps_refusals_and_failures(stk, fields, expected):
    assert outcome(stk.pay(mpesa_message(stk, **fields))) == expected


@pytest.mark.parametrize("fields, reason", [
    ({"f004": "1500.50"}, "AMOUNT_NOT_WHOLE"),
    ({"f005": "250788123456"}, "INVALID_MSISDN"),
])
def test_the_request_function_refuses_what_m_pesa_cannot_take(stk, daraja, fields, reason):
    stk.pay(mpesa_message(stk))  # the token is fetched: what follows must send nothing at all
    before = daraja.simulator.requests

    response = stk.pay(mpesa_message(stk, **fields))

    assert outcome(response) == (422, "REJECTED", reason)
    assert daraja.simulator.requests == before


def test_a_service_in_another_currency_is_refused_before_anything_is_sent(admin, base_url, daraja):
    stk = mpesa_route(admin, base_url, daraja, currency="RWF")
    assert outcome(stk.pay(mpesa_message(stk))) == (422, "REJECTED", "CURRENCY_NOT_SUPPORTED")


def test_a_wrong_passkey_is_refused_by_daraja_and_nothing_is_charged(admin, base_url, daraja):
    stk = mpesa_route(admin, base_url, daraja, credentials={**mpesa_credentials(daraja), "passkey": "not-it"})
    assert outcome(stk.pay(mpesa_message(stk))) == (200, "FAILED", "PROVIDER_REJECTED")


@pytest.mark.parametrize("amount, status, code", [("1500", "SUCCESS", "SUCCESSFUL"), ("93", "FAILED", "WRONG_PIN"),
                                                  ("97", "FAILED", "PAYER_UNREACHABLE")])
def test_the_stk_query_settles_a_pending_push(stk, rt, db, amount, status, code):
    paid = stk.pay(mpesa_message(stk, f004=amount)).json()
    time.sleep(0.3)  # the payer answers the prompt
    with rt.db.connection() as conn:
        conn.execute("UPDATE mospay.jobs SET run_at = now() WHERE kind = 'unknown_outcome' AND transaction_id = "
                     "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))

    jobs.run_due(rt)

    row = db("SELECT status, answer, downstream_request FROM mospay.transactions WHERE ref = %s::uuid",
             (paid["transaction_ref"],))[0]
    assert (row["status"], row["answer"]["code"]) == (status, code)
    assert row["downstream_request"]["body"]["Password"] == "****"  # derived from the passkey: masked


def test_the_response_function_maps_the_later_result(admin, stk):
    fn = f"RESPONSE_{stk.client['app_id']}_{stk.service['microservice']}_payment"
    checkout = {"merchant_request_id": "1-2-1", "checkout_request_id": "ws_CO_1", "amount": 10,
                "phone": "254712345678", "receipt": "NLJ7RT61SV"}
    answers = {}
    for code in (0, 1032):
        callback = mpesa.callback_body({**checkout, "result_code": code})
        answers[code] = admin.post(f"/functions/{fn}/test", {
            "request": mpesa_message(stk), "response": {"status_code": 200, "body": callback}}).json()["result"]

    assert answers[0]["status"] == "SUCCESS" and answers[0]["data"]["mpesa_receipt_number"] == "NLJ7RT61SV"
    assert (answers[1032]["status"], answers[1032]["code"]) == ("FAILED", "CANCELLED_BY_PAYER")
