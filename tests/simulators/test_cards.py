"""Cards in Stripe's PaymentIntents dialect: Stripe's own SDK drives the simulator, and the templates pay through it."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
import stripe

from gateway.admin import reports
from tests.providers import base_url as url_of
from tests.providers import card_message, card_routes, card_server

KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"


@pytest.fixture(scope="module")
def cards():
    server = card_server()
    yield server
    server.shutdown()


@pytest.fixture(scope="module")
def sdk(cards):
    """Stripe's official Python SDK, pointed at the simulator instead of api.stripe.com."""
    return stripe.StripeClient(KEY, base_addresses={"api": url_of(cards)}, max_network_retries=0)


def test_stripe_s_sdk_authorises_captures_and_refunds_on_the_simulator(sdk):
    intent = sdk.v1.payment_intents.create(params={
        "amount": 2000, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True,
        "capture_method": "manual", "payment_method_types": ["card"], "metadata": {"order": "1042"}})
    captured = sdk.v1.payment_intents.capture(intent.id, params={"amount_to_capture": 1500})
    refund = sdk.v1.refunds.create(params={"payment_intent": intent.id, "amount": 500})

    assert intent.status == "requires_capture" and intent.amount_capturable == 2000
    assert intent.metadata["order"] == "1042"
    assert captured.status == "succeeded" and captured.amount_received == 1500
    assert refund.status == "succeeded" and refund.amount == 500
    assert sdk.v1.payment_intents.retrieve(intent.id).amount_refunded == 500


def test_stripe_s_sdk_sees_declines_bad_keys_and_idempotency_as_stripe_answers_them(sdk, cards):
    with pytest.raises(stripe.CardError) as declined:
        sdk.v1.payment_intents.create(params={"amount": 2000, "currency": "usd", "confirm": True,
                                              "payment_method": "pm_card_chargeDeclinedInsufficientFunds"})
    with pytest.raises(stripe.AuthenticationError):
        stripe.StripeClient("sk_live_wrong", base_addresses={"api": url_of(cards)}, max_network_retries=0) \
            .v1.payment_intents.create(params={"amount": 1, "currency": "usd"})
    params = {"amount": 700, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
    first = sdk.v1.payment_intents.create(params=params, options={"idempotency_key": "order-7"})
    again = sdk.v1.payment_intents.create(params=params, options={"idempotency_key": "order-7"})
    with pytest.raises(stripe.IdempotencyError):
        sdk.v1.payment_intents.create(params={**params, "amount": 701}, options={"idempotency_key": "order-7"})

    assert declined.value.code == "card_declined" and declined.value.error.decline_code == "insufficient_funds"
    assert first.id == again.id and first.status == "succeeded"  # a retried call never charges twice


# --- through the switch ----------------------------------------------------------------------------

@pytest.fixture
def routes(admin, base_url, cards):
    return card_routes(admin, base_url, cards, secret_key=KEY)


def outcome(response):
    body = response.json()
    return response.status_code, body.get("status"), body.get("code") or body.get("error", {}).get("details", {}).get(
        "reason")


def pay(routes, route, **fields):
    return routes[route].pay(card_message(routes[route], **fields))


def test_a_card_is_authorised_captured_and_refunded_by_ordinary_routes(routes, cards, db, rt):
    authorised = pay(routes, "authorise", f004="100.00", f008="pm_card_visa")
    auth_id = authorised.json()["data"]["authorisation_id"]

    captured = pay(routes, "capture", f009=auth_id, f004=None)
    refunded = pay(routes, "refund", f009=auth_id, f004="40.00")
    too_much = pay(routes, "refund", f009=auth_id, f004="70.00")

    assert outcome(authorised) == (200, "SUCCESS", "AUTHORISED")
    assert outcome(captured) == (200, "SUCCESS", "CAPTURED") and captured.json()["data"]["amount"] == "100.00"
    assert outcome(refunded) == (200, "SUCCESS", "REFUNDED") and refunded.json()["data"]["authorisation_id"] == auth_id
    assert outcome(too_much) == (200, "FAILED", "AMOUNT_TOO_LARGE")
    intent = cards.simulator.intents[auth_id]
    assert (intent["amount"], intent["currency"], intent["amount_refunded"]) == (10000, "usd", 4000)
    sent = db("SELECT downstream_request FROM mospay.transactions WHERE ref = %s::uuid",
              (authorised.json()["transaction_ref"],))[0]["downstream_request"]
    assert sent["headers"]["Authorization"] == "****" and sent["headers"]["Idempotency-Key"]
    assert sent["body"]["payment_method"] == "****" and KEY not in str(sent)
    followers = reports.transaction(rt, authorised.json()["transaction_ref"])["related"]
    assert [(f["route"], f["status"]) for f in followers] == [("capture", "SUCCESS"), ("refund", "SUCCESS"),
                                                              ("refund", "FAILED")]


def test_a_hold_is_released_by_cancel_and_then_cannot_be_captured(routes):
    auth_id = pay(routes, "authorise", f008="tok_visa").json()["data"]["authorisation_id"]

    refund_first = pay(routes, "refund", f009=auth_id)
    cancelled = pay(routes, "cancel", f009=auth_id)
    capture = pay(routes, "capture", f009=auth_id)

    assert outcome(refund_first) == (200, "FAILED", "PAYMENT_INTENT_UNEXPECTED_STATE")
    assert outcome(cancelled) == (200, "SUCCESS", "REVERSED")
    assert outcome(capture) == (200, "FAILED", "PAYMENT_INTENT_UNEXPECTED_STATE")


@pytest.mark.parametrize("fields, expected", [
    ({"f008": "pm_card_chargeDeclined"}, (200, "FAILED", "GENERIC_DECLINE")),
    ({"f008": "pm_card_chargeDeclinedInsufficientFunds"}, (200, "FAILED", "INSUFFICIENT_FUNDS")),
    ({"f008": "pm_card_chargeDeclinedExpiredCard"}, (200, "FAILED", "EXPIRED_CARD")),
    ({"f004": "96.00"}, (502, "UNKNOWN", "PROVIDER_ERROR")),
])
def test_card_declines_and_failures(routes, fields, expected):
    assert outcome(pay(routes, "authorise", **{"f008": "pm_card_visa", **fields})) == expected


def test_a_retried_authorisation_is_never_charged_twice(routes, cards, rt):
    """The Idempotency-Key is the transaction reference: sending the same call again replays Stripe's answer."""
    paid = pay(routes, "authorise", f008="pm_card_visa").json()
    route = rt.registry.route(routes["authorise"].client["app_id"], routes["authorise"].service["microservice"],
                              "collection", "authorise")
    with rt.db.connection() as conn:
        stored = conn.execute("SELECT downstream_request FROM mospay.transactions WHERE ref = %s::uuid",
                              (paid["transaction_ref"],)).fetchone()["downstream_request"]
    # The stored call, as it was sent (the switch masks its credential-like headers when storing it).
    call = {**stored, "headers": {**stored["headers"], "Authorization": f"Bearer {KEY}",
                                  "Idempotency-Key": paid["transaction_ref"]},
            "body": {**stored["body"], "payment_method": "pm_card_visa"}}
    before = len(cards.simulator.intents)

    again = rt.forwarder.send(call)

    assert route is not None and again.status_code == 200 and again.body["id"] == paid["data"]["authorisation_id"]
    assert len(cards.simulator.intents) == before


@pytest.mark.parametrize("route, fields, reason", [
    ("authorise", {"f008": "4242424242424242"}, "CARD_NUMBER_NOT_ACCEPTED"),
    ("authorise", {"f008": "pm_card_visa", "f004": "10.001"}, "INVALID_AMOUNT"),
    ("capture", {"f009": "../refunds"}, "INVALID_AUTHORISATION_ID"),
])
def test_a_bad_card_or_id_never_leaves_the_switch(routes, cards, route, fields, reason):
    before = cards.simulator.requests
    assert outcome(pay(routes, route, **fields)) == (422, "REJECTED", reason)
    assert cards.simulator.requests == before


def test_a_wrong_secret_key_is_refused_and_nothing_is_charged(admin, base_url, cards):
    wrong = card_routes(admin, base_url, cards, secret_key="sk_live_not_the_key")
    before = len(cards.simulator.intents)
    assert outcome(pay(wrong, "authorise", f008="pm_card_visa")) == (200, "FAILED", "PROVIDER_UNAUTHORIZED")
    assert len(cards.simulator.intents) == before


def test_fx_converts_what_the_card_processor_receives(admin, base_url, cards, db):
    rate = db("SELECT rate FROM mospay_fn.fx_rates WHERE base = 'USD' AND quote = 'RWF'")[0]["rate"]
    routes = card_routes(admin, base_url, cards, secret_key=KEY, plugins=["fx_conversion"],
                         fx={"settlement_currency": "USD"})

    answer = pay(routes, "authorise", f004="15000", f006="RWF", f008="pm_card_visa").json()

    intent = cards.simulator.intents[answer["data"]["authorisation_id"]]
    expected = (Decimal(15000) / rate).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert (intent["amount"], intent["currency"]) == (int(expected * 100), "usd")
