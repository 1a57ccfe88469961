"""The demo: client ``akaliza`` with MTN MoMo collection, against the simulator, credentials in the vault."""

import logging

from gateway.admin import credentials, onboarding

log = logging.getLogger(__name__)

DEMO_CLIENT = {"name": "Akaliza", "app_id": "akaliza"}
DEMO_SERVICE = {
    "microservice": "mtnmomorwa", "service": "collection", "route": "payment",
    "method": "POST", "timeout_ms": 5000, "template": "mtn_momo_collection", "currency": "RWF",
    "fields": [
        {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "5000000"},
        {"code": "f005", "name": "payer_msisdn", "type": "msisdn", "required": True},
        {"code": "f007", "name": "payer_pin", "type": "secret", "required": False},
        {"code": "f009", "name": "narration", "type": "string", "required": False, "max": "160"},
    ],
}
# The demo's MTN API user, provisioned in the simulator it starts (python -m gateway.simulators.mtn_momo
# --api-user … --api-key …), as a sandbox user would be with POST /v1_0/apiuser and …/apikey.
DEMO_API_USER = "0b6a3c1e-5f2d-4c8a-9e7b-1d2f3a4b5c6d"
DEMO_API_KEY = "demo0api0key0not0a0secret00000"
DEMO_CREDENTIALS = {"api_user": DEMO_API_USER, "api_key": DEMO_API_KEY, "subscription_key": "demo-subscription-key",
                    "target_environment": "sandbox"}


def simulator_url(port):
    """The demo simulator's base URL (the template knows MTN's paths)."""
    return f"http://127.0.0.1:{port}"


def simulator_args(port):
    """The command line that starts the demo simulator with the demo's API user."""
    return ["-m", "gateway.simulators.mtn_momo", "--port", str(port), "--api-user", DEMO_API_USER,
            "--api-key", DEMO_API_KEY]


def seed_demo(rt):
    """Create the demo client, service (with its credentials) and assignment if they are missing."""
    if rt.registry.client(DEMO_CLIENT["app_id"]) is None:
        rt.registry.reload()
    if rt.registry.client(DEMO_CLIENT["app_id"]) is not None:
        return False
    onboarding.create_client(rt, DEMO_CLIENT, "demo", password=rt.config.DEMO_CLIENT_PASSWORD)
    key = {k: DEMO_SERVICE[k] for k in ("microservice", "service", "route")}
    if not any(s["microservice"] == "mtnmomorwa" and s["route"] == "payment" for s in onboarding.list_services(rt)):
        onboarding.create_service(rt, {**DEMO_SERVICE, "url": simulator_url(rt.config.SIMULATOR_PORT)}, "demo")
        credentials.set_service_credentials(rt, key, {"values": DEMO_CREDENTIALS}, "demo")
    onboarding.assign_service(rt, DEMO_CLIENT["app_id"], key, "demo")
    log.info("seeded the demo client 'akaliza' and service mtnmomorwa/collection/payment")
    return True
