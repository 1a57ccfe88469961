"""Attack: a tenant's function passes the payer's secrets on in disguise, hoping one copy gets stored or shown.

Before: masking caught only exact copies of f007/f008; upper-cased, base64, reversed and PIN-block copies
were stored and shown, ``RAISE 'bad pin %', upper(f008)`` returned the PIN to the client, and a field typed
``secret`` in f009 was stored in clear. Now every secret field is masked whatever its code, every obvious
disguise is scrubbed, and paths a call declares ``sensitive`` are masked whatever they hold.
"""

import base64
import json

import pytest

from tests.factories import DEFAULT_FIELDS, Integrator, replace_function, request_function_name

PIN, PASSWORD, DEVICE_SECRET = "8642", "Sentinel-Pass-7319", "device-secret-5521"
FIELDS = [*(f for f in DEFAULT_FIELDS if f["code"] != "f009"), {"code": "f009", "name": "device", "type": "secret"}]

DISGUISING_REQUEST = """BEGIN
    RETURN jsonb_build_object(
        'url', context #>> '{service,url}',
        'headers', jsonb_build_object('X-Device', request->>'f009'),
        'sensitive', jsonb_build_array('body.pin_block', 'headers.X-Device'),
        'body', jsonb_build_object(
            'upper', upper(request->>'f008'), 'lower', lower(request->>'f008'),
            'reversed', reverse(request->>'f008'),
            'b64', encode(convert_to(request->>'f008', 'UTF8'), 'base64'),
            'hex', encode(convert_to(request->>'f008', 'UTF8'), 'hex'),
            'pin_reversed', reverse(request->>'f007'),
            'pin_block', md5('0412' || (request->>'f007')),
            'device', 'dev:' || (request->>'f009'),
            'sentence', 'password was ' || initcap(request->>'f008') || ' ok'));
END"""


def every_disguise(secret):
    raw = secret.encode()
    return {secret, secret.upper(), secret.lower(), secret[::-1], raw.hex(), base64.b64encode(raw).decode()}


@pytest.fixture
def tenant(admin, base_url, downstream):
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay", fields=FIELDS)
    admin.assign(client, service)
    return Integrator(base_url, client, service)


def stored_text(db, unique_id):
    rows = db("SELECT t.*, (SELECT json_agg(l) FROM mospay.api_logs l WHERE l.transaction_id = t.id) AS logs "
              "FROM mospay.transactions t WHERE t.unique_id = %s", (unique_id,))
    return json.dumps(rows, default=str)


def leaks(text):
    found = {d for secret in (PASSWORD, DEVICE_SECRET) for d in every_disguise(secret) if d.lower() in text.lower()}
    md5_pin_block = None  # the PIN block is only masked by its declared path: check the raw value is absent
    return found, md5_pin_block


def test_disguised_copies_of_secrets_are_stored_and_answered_masked(tenant, downstream, rt, db):
    replace_function(rt, request_function_name(tenant), DISGUISING_REQUEST)
    message = tenant.message(f007=PIN, f008=PASSWORD, f009=DEVICE_SECRET)

    response = tenant.pay(message)  # the downstream echoes the body back into the answer's data

    assert response.status_code == 200, response.text
    sent = downstream.received[-1]["body"]
    assert sent["upper"] == PASSWORD.upper() and sent["device"] == f"dev:{DEVICE_SECRET}"  # the provider got them
    for where, text in (("answer", response.text), ("tables", stored_text(db, message["f010"]))):
        found, _ = leaks(text)
        assert not found, f"{where} holds {found}"
        assert sent["pin_block"] not in text, f"{where} holds the PIN block"
        assert PIN[::-1] not in text and DEVICE_SECRET not in text
    stored = db("SELECT request, downstream_request FROM mospay.transactions WHERE unique_id = %s",
                (message["f010"],))[0]
    assert stored["request"]["f009"] == "****"  # a field typed secret is masked whatever its code
    assert stored["downstream_request"]["headers"]["X-Device"] == "****"


def test_a_raised_message_cannot_carry_a_secret_to_the_client(tenant, rt, db):
    replace_function(rt, request_function_name(tenant),
                     "BEGIN RAISE EXCEPTION 'bad pin %, % and %', upper(request->>'f008'), "
                     "reverse(request->>'f007'), encode(convert_to(request->>'f009', 'UTF8'), 'hex'); END")
    message = tenant.message(f007=PIN, f008=PASSWORD, f009=DEVICE_SECRET)

    response = tenant.pay(message)

    assert response.json()["error"]["code"] == "FUNCTION_RAISED"
    for text in (response.text, stored_text(db, message["f010"])):
        assert not leaks(text)[0] and PIN[::-1] not in text
