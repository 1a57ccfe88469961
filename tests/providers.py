"""Onboarding a real-protocol provider route through the admin API, as the README tells a newcomer to."""

import threading
import uuid

import requests

from gateway.simulators import mtn_momo
from tests.factories import Integrator, unique_name

SUBSCRIPTION_KEY = "portal-issued-subscription-key"
MOMO_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "5000000"},
    {"code": "f005", "name": "payer_msisdn", "type": "msisdn", "required": True},
    {"code": "f009", "name": "narration", "type": "string", "max": "160"},
]


def serve(server):
    """Run a simulator's server in a daemon thread; returns it."""
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def base_url(server):
    return f"http://127.0.0.1:{server.server_address[1]}"


def momo_server(**settings):
    """A fresh MTN MoMo simulator (fast results, unless told otherwise)."""
    return serve(mtn_momo.make_server(port=0, **{"slow_seconds": 1.0, "result_seconds": 0.3, **settings}))


def momo_credentials(server, product="collection"):
    """Provision an API user and key in the simulator as MTN's sandbox wants it; the vault's four values."""
    headers = {"Ocp-Apim-Subscription-Key": SUBSCRIPTION_KEY}
    user = str(uuid.uuid4())
    created = requests.post(base_url(server) + "/v1_0/apiuser", json={"providerCallbackHost": "switch.example"},
                            headers={**headers, "X-Reference-Id": user})
    assert created.status_code == 201, created.text
    key = requests.post(base_url(server) + f"/v1_0/apiuser/{user}/apikey", headers=headers).json()["apiKey"]
    return {"api_user": user, "api_key": key, "subscription_key": SUBSCRIPTION_KEY, "target_environment": "sandbox"}


def momo_route(admin, switch_url, server, credentials=None, template="mtn_momo_collection", **service):
    """A client paying through MTN MoMo: service at the simulator's base URL, credentials in the vault, assigned."""
    created = admin.create_service(base_url(server), **{"microservice": unique_name("momo"), "template": template,
                                                        "fields": MOMO_FIELDS, "timeout_ms": 2000, **service})
    key = "/services/{microservice}/{service}/{route}/credentials".format(**created)
    stored = admin.put(key, {"values": credentials or momo_credentials(server)})
    assert stored.status_code == 200, stored.text
    client = admin.create_client()
    admin.assign(client, created)
    return Integrator(switch_url, client, created)


def momo_message(integrator, **fields):
    """The standard message: f005 is the payer's MSISDN, the currency is the service's setting."""
    message = integrator.message(**fields)
    if "f006" not in fields:
        message.pop("f006", None)
    message.setdefault("f005", "250788123456")
    if message["f005"] == "RWF":
        message["f005"] = "250788123456"
    return message


MPESA_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True},
    {"code": "f005", "name": "payer_msisdn", "type": "msisdn", "required": True},
    {"code": "f009", "name": "account", "type": "string", "max": "100"},
]


def mpesa_server(**settings):
    """A fresh Daraja simulator (fast results, unless told otherwise)."""
    from gateway.simulators import mpesa

    return serve(mpesa.make_server(port=0, **{"slow_seconds": 1.0, "result_delay": 0.2, **settings}))


def mpesa_credentials(server):
    """A Daraja app registered in the simulator, as the developer portal issues one; the vault's four values."""
    from gateway.simulators import mpesa

    key, secret = unique_name("ck"), unique_name("cs")
    server.simulator.add_app(key, secret)
    return {"consumer_key": key, "consumer_secret": secret, "shortcode": mpesa.SANDBOX_SHORTCODE,
            "passkey": mpesa.SANDBOX_PASSKEY}


def mpesa_route(admin, switch_url, server, credentials=None, **service):
    """A client paying by STK push: service at the simulator's base URL, credentials in the vault, assigned."""
    created = admin.create_service(base_url(server), **{"microservice": unique_name("mpesa"),
                                                        "template": "mpesa_stk_push", "fields": MPESA_FIELDS,
                                                        "timeout_ms": 2000, **service})
    key = "/services/{microservice}/{service}/{route}/credentials".format(**created)
    stored = admin.put(key, {"values": credentials or mpesa_credentials(server)})
    assert stored.status_code == 200, stored.text
    client = admin.create_client()
    admin.assign(client, created)
    return Integrator(switch_url, client, created)


def mpesa_message(integrator, **fields):
    """An STK push message: f005 the payer's Kenyan MSISDN."""
    message = {k: v for k, v in integrator.message(**fields).items() if k != "f006" or "f006" in fields}
    if "f005" not in fields:
        message["f005"] = "254712345678"
    return message


CARD_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True},
    {"code": "f006", "name": "currency", "type": "currency"},
    {"code": "f008", "name": "payment_method", "type": "secret", "required": True},
    {"code": "f009", "name": "description", "type": "string", "max": "100"},
]
CARD_FOLLOW_UP_FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount"},
    {"code": "f006", "name": "reason", "type": "string", "max": "40"},
    {"code": "f009", "name": "authorisation_id", "type": "string", "required": True, "max": "64"},
]


def card_server(**settings):
    """A fresh Stripe-shaped card simulator."""
    from gateway.simulators import cards

    return serve(cards.make_server(port=0, **{"slow_seconds": 1.0, **settings}))


def card_routes(admin, switch_url, server, secret_key="sk_test_4eC39HqLyjWDarjtT1zdp7dc", **service):
    """authorise, capture, refund and cancel routes of one card microservice, for one client, key in the vault."""
    microservice, client, routes = unique_name("card"), admin.create_client(), {}
    for route, fields in (("authorise", CARD_FIELDS), ("capture", CARD_FOLLOW_UP_FIELDS),
                          ("refund", CARD_FOLLOW_UP_FIELDS), ("cancel", CARD_FOLLOW_UP_FIELDS)):
        created = admin.create_service(base_url(server), **{"microservice": microservice, "route": route,
                                                            "template": f"card_{route}", "fields": fields,
                                                            **service})
        stored = admin.put("/services/{microservice}/{service}/{route}/credentials".format(**created),
                           {"values": {"secret_key": secret_key}})
        assert stored.status_code == 200, stored.text
        admin.assign(client, created)
        routes[route] = Integrator(switch_url, client, created)
    return routes


def card_message(integrator, **fields):
    """A card message with only this route's fields (``None`` drops one)."""
    codes = {f["code"] for f in integrator.service["fields"]}
    message = {k: v for k, v in integrator.message(**fields).items() if k not in ("f005", "f006") or k in fields}
    return {k: v for k, v in message.items()
            if v is not None and (k in codes or k in ("f000", "f001", "f002", "f003", "f010"))}
