"""Provider tokens, fetched by the switch as the template declares, end to end against MTN MoMo's simulator."""

import time

import pytest

from tests.providers import momo_credentials, momo_message, momo_route, momo_server


@pytest.fixture
def momo():
    server = momo_server(token_seconds=3600)
    yield server
    server.shutdown()


def test_one_token_serves_many_payments(admin, base_url, momo):
    route = momo_route(admin, base_url, momo)

    answers = [route.pay(momo_message(route)) for _ in range(5)]

    assert [a.status_code for a in answers] == [202] * 5, answers[0].text
    assert {a.json()["code"] for a in answers} == {"ACCEPTED"}
    assert momo.simulator.token_grants == 1
    assert len(momo.simulator.payments) == 5


def test_a_token_is_fetched_again_shortly_before_it_expires(admin, base_url):
    short = momo_server(token_seconds=2)
    try:
        route = momo_route(admin, base_url, short)
        assert route.pay(momo_message(route)).status_code == 202
        time.sleep(2.1)  # refreshed a tenth of its life before expiry: here, after 1.8 s

        assert route.pay(momo_message(route)).status_code == 202
        assert short.simulator.token_grants == 2
    finally:
        short.shutdown()


def test_a_401_mid_life_fetches_a_new_token_and_charges_once(admin, base_url, momo, db):
    route = momo_route(admin, base_url, momo)
    assert route.pay(momo_message(route)).status_code == 202
    momo.simulator.revoke_tokens()  # the provider forgets the token the switch holds

    message = momo_message(route)
    answer = route.pay(message)

    assert answer.status_code == 202, answer.text
    assert momo.simulator.token_grants == 2
    sent = [p for p in momo.simulator.payments.values() if p["body"]["externalId"] == message["f010"]]
    assert len(sent) == 1  # the refused call moved nothing; the resent one is the only charge
    row = db("SELECT status, downstream_status FROM mospay.transactions WHERE unique_id = %s", (message["f010"],))[0]
    assert row == {"status": "PENDING", "downstream_status": 202}


def test_a_failed_token_step_sends_nothing_and_counts_against_the_circuit(admin, base_url, momo, rt, db):
    credentials = {**momo_credentials(momo), "api_key": "not-the-key"}
    route = momo_route(admin, base_url, momo, credentials=credentials)
    before = len(momo.simulator.payments)

    answer = route.pay(momo_message(route))

    body = answer.json()
    assert answer.status_code == 502 and body["status"] == "FAILED"
    assert body["error"]["code"] == "PROVIDER_AUTH_FAILED"
    assert len(momo.simulator.payments) == before
    breaker = rt.forwarder.circuits.breaker(("http", "127.0.0.1", momo.server_address[1]))
    assert breaker.failures >= 1
    stored = db("SELECT status, error_code FROM mospay.transactions WHERE ref = %s::uuid", (body["transaction_ref"],))
    assert stored == [{"status": "FAILED", "error_code": "PROVIDER_AUTH_FAILED"}]


def test_workers_share_the_token_through_the_database(admin, base_url, momo, rt, db):
    route = momo_route(admin, base_url, momo)
    assert route.pay(momo_message(route)).status_code == 202
    rt.provider_tokens._cache.clear()  # another worker: nothing in its memory yet

    assert route.pay(momo_message(route)).status_code == 202

    assert momo.simulator.token_grants == 1
    sealed = db("SELECT token_sealed FROM mospay.provider_tokens")
    assert sealed and all(row["token_sealed"].startswith("gAAAA") for row in sealed)  # sealed, never in clear
