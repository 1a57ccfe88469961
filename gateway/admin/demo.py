"""The demo: client ``akaliza`` with the MTN-MoMo-like collection service."""

import logging

from gateway.admin import onboarding

log = logging.getLogger(__name__)

DEMO_CLIENT = {"name": "Akaliza", "app_id": "akaliza"}
DEMO_SERVICE = {
    "microservice": "mtnmomorwa", "service": "collection", "route": "payment",
    "method": "POST", "timeout_ms": 5000, "template": "mtn_momo_collection",
    "fields": [
        {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "5000000"},
        {"code": "f005", "name": "currency", "type": "currency", "required": False},
        {"code": "f006", "name": "payer_msisdn", "type": "msisdn", "required": True},
        {"code": "f007", "name": "payer_pin", "type": "secret", "required": False},
        {"code": "f009", "name": "narration", "type": "string", "required": False, "max": "160"},
    ],
}


def simulator_url(port):
    """Where the demo simulator's request-to-pay lives."""
    return f"http://127.0.0.1:{port}/collection/v1_0/requesttopay"


def seed_demo(rt):
    """Create the demo client, service and assignment if they are missing."""
    if rt.registry.client(DEMO_CLIENT["app_id"]) is None:
        rt.registry.reload()
    if rt.registry.client(DEMO_CLIENT["app_id"]) is not None:
        return False
    onboarding.create_client(rt, DEMO_CLIENT, "demo", password=rt.config.DEMO_CLIENT_PASSWORD)
    if not any(s["microservice"] == "mtnmomorwa" and s["route"] == "payment" for s in onboarding.list_services(rt)):
        onboarding.create_service(rt, {**DEMO_SERVICE, "url": simulator_url(rt.config.SIMULATOR_PORT)}, "demo")
    onboarding.assign_service(rt, DEMO_CLIENT["app_id"],
                              {k: DEMO_SERVICE[k] for k in ("microservice", "service", "route")}, "demo")
    log.info("seeded the demo client 'akaliza' and service mtnmomorwa/collection/payment")
    return True
