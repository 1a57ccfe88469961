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
