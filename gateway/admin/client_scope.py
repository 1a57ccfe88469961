"""What a signed-in client user may read and do: the admin reports and services, scoped to one client app.

Every function takes the ``ClientUser`` (gateway/admin/client_users.py) and names its client in the query
itself (a filter the caller cannot widen) or checks the row's owner before answering. Anything of another
client answers exactly as a missing thing does (``NotFound``), so ids cannot be probed.
"""

import secrets

from gateway.admin import exports, keyset, onboarding, reports
from gateway.db import Q
from gateway.errors import NotFound, UpstreamUnavailable
from gateway.follow_up import deliveries
from gateway.hot_path.client_auth import issue_client_token

TEST_PAYMENT_TIMEOUT_MS = 30_000


def _scoped(user, args):
    """The request's filters with the client forced to ``user``'s own (a ``client=`` given is replaced)."""
    return {**{key: args.get(key) for key in args}, "client": user.app_id}


def cursors(args):
    """The ``(after, before)`` page cursors of a list's query string (a tampered one shows the newest page)."""
    return keyset.cursor_args(args, lenient=True)


def payments(rt, user, args, cursors=None):
    """A page of the user's payments, filtered like the admin list (``status``, ``service``, dates, ``f010``);
    ``cursors``: ``(after, before)`` from ``keyset.cursor_args``."""
    return reports.transactions(rt, reports.transaction_filters(_scoped(user, args)), cursors)


def payment(rt, user, ref):
    """One payment of the user's client (stage timeline, masked request and answer); ``NotFound`` otherwise.

    What stays with the switch's operators is dropped: the SQL error detail of the client's functions, and the
    call to the provider and its raw answer (the provider's URL, headers and API belong to the switch's
    contract with it, not to the integrator's).
    """
    found = reports.transaction(rt, ref)
    if found["client_id"] != user.client_id:
        raise NotFound("No transaction with this reference.")
    # "related" and "api_logs" are read by the payment's own client_id and id already.
    return {**found, "error_detail": None, "downstream_request": None, "downstream_response": None}


def payments_csv(rt, user, args):
    """The filtered payments as CSV lines, streamed (``gateway/admin/exports.py``), of the user's client only."""
    return exports.rows_as_csv(rt, "transactions", _scoped(user, args))


def api_logs(rt, user, args, cursors=None):
    """A page of the user's client's API calls, newest first."""
    return reports.api_logs(rt, reports.api_log_filters(_scoped(user, args)), cursors)


def callback_deliveries(rt, user, state=None):
    """The client's callback deliveries, newest first."""
    return deliveries.list_deliveries(rt, user.app_id, state if state in deliveries.STATES else None, 200)


def resend_delivery(rt, user, delivery_id):
    """Queue one of the client's own deliveries again; another client's id is ``NotFound``."""
    if rt.db.fetch_one(Q.client_delivery_owner, {"id": delivery_id, "client_id": user.client_id}) is None:
        raise NotFound(f"No client callback delivery {delivery_id}.")
    return deliveries.resend(rt, delivery_id, user.actor)


def credentials(rt, user):
    """The client's current API username, callback URL, and when its credential and signing secret were last used."""
    client = onboarding.get_client(rt, user.app_id)
    use = rt.db.fetch_one(Q.client_credential_use, {"client_id": user.client_id})
    return {"app_id": client["app_id"], "name": client["name"], "username": client["username"],
            "callback_url": client["callback_url"], "credential_version": client["credential_version"], **use}


def rotate_secret(rt, user):
    """New API username and password (the admin's rotation service): shown once, the old ones stop now."""
    return onboarding.rotate_credentials(rt, user.app_id, user.actor)


def rotate_callback_secret(rt, user):
    """A new callback signing secret, shown once."""
    return onboarding.rotate_callback_secret(rt, user.app_id, user.actor)


def set_callback_url(rt, user, url):
    """Set (or clear, with an empty value) the client's callback URL, under the admin API's rules."""
    return onboarding.set_callback_url(rt, user.app_id, {"callback_url": url or None}, user.actor)


def routes(rt, user):
    """The client's routes with their effective field rules (no provider URL: that is the switch's business)."""
    found = []
    for row in reports.routes(rt, user.app_id):
        found.append({"microservice": row["microservice"], "service": row["service"], "route": row["route"],
                      "enabled": row["enabled"] and row["client_active"], "app_id": user.app_id,
                      "fields": (row["settings"] or {}).get("fields", row["fields"])})
    return found


def route(rt, user, microservice, service, route_name):
    """One of the client's routes; ``NotFound`` for any other."""
    for found in routes(rt, user):
        if (found["microservice"], found["service"], found["route"]) == (microservice, service, route_name):
            return found
    raise NotFound("No such route of your client app.")


def send_test_payment(rt, user, found_route, message, base_url):
    """Send ``message`` as a real payment on ``found_route`` through the switch's own HTTP API, as the client.

    The client's own credential is never needed: the switch issues it a short-lived client JWT, exactly what
    ``POST /api/v1/auth/token`` would. ``f010`` is a fresh ``test-…`` id. Returns the API's answer
    (``transaction_ref`` names the payment: its page shows the lifecycle).
    """
    client = rt.registry.client(user.app_id)
    if client is None or not client.active:
        raise NotFound("Your client app is not active.")
    body = {**message, "f000": found_route["microservice"], "f001": found_route["service"],
            "f002": found_route["route"], "f003": user.app_id, "f010": f"test-{secrets.token_hex(6)}"}
    token = issue_client_token(rt, client)["access_token"]
    answer = rt.forwarder.send({
        "url": base_url.rstrip("/") + "/api/v1/payment/process", "method": "POST", "body": body,
        "timeout_ms": TEST_PAYMENT_TIMEOUT_MS,
        "headers": {"Authorization": f"Bearer {token}", "App-ID": user.app_id}})
    if answer.failure is not None or not isinstance(answer.body, dict):
        raise UpstreamUnavailable("The switch's own API did not answer the test payment.")
    return {"http_status": answer.status_code, "unique_id": body["f010"], **answer.body}
