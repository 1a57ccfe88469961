"""A new integration in one step: a client, its provider service and the assignment (issue 15 §3).

What took an admin 17–21 portal actions (create the client, create the service, assign it,
find the credentials, write a request) is one form: the client's name, and either a service
that exists or a provider template with its base URL. Every part is checked before anything
is written, then made through the ordinary onboarding services (same audit, same rules); the
answer carries the client with its credentials, shown once.
"""

from gateway.admin import onboarding
from gateway.errors import ValidationFailed
from gateway.naming import function_name_problem

DEFAULT_SERVICE, DEFAULT_ROUTE = "collection", "payment"


def create(rt, payload, actor):
    """Create the client, the service when it is new, and the assignment; returns ``{"client", "service"}``.

    ``payload``: ``{"name", "callback_url"?, "service": "ms/service/route"}`` for an existing service, or
    ``{"name", "callback_url"?, "template", "url", "microservice"}`` for a new one from a template.
    """
    client_payload = {key: payload[key] for key in ("name", "callback_url") if payload.get(key)}
    key, new_service = _service_of(rt, payload)
    app_id = onboarding.app_id_from_name(payload.get("name") or "")
    problem = function_name_problem(app_id, key["microservice"], key["route"])
    if problem:
        raise ValidationFailed(details={"name": problem})
    if new_service is not None:
        onboarding.check_new_service(rt, new_service)  # before the client: a refusal must leave nothing behind
    client = onboarding.create_client(rt, client_payload, actor)
    if new_service is not None:
        onboarding.create_service(rt, new_service, actor)
    onboarding.assign_service(rt, client["app_id"], key, actor)
    return {"client": client, "service": key}


def _service_of(rt, payload):
    """``(key, payload of a new service or None)``; the key is ``{"microservice", "service", "route"}``."""
    if payload.get("service"):
        parts = payload["service"].split("/")
        existing = {(s["microservice"], s["service"], s["route"]) for s in onboarding.list_services(rt)}
        if len(parts) != 3 or tuple(parts) not in existing:
            raise ValidationFailed(details={"service": "pick one of the services, or a template for a new one"})
        return dict(zip(("microservice", "service", "route"), parts, strict=True)), None
    if not payload.get("template"):
        raise ValidationFailed(details={"service": "pick an existing service, or a template for a new one"})
    new = {"microservice": (payload.get("microservice") or "").strip(), "service": DEFAULT_SERVICE,
           "route": DEFAULT_ROUTE, "url": (payload.get("url") or "").strip(), "template": payload["template"]}
    return {k: new[k] for k in ("microservice", "service", "route")}, new
