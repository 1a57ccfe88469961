"""Issue 11, point 4: a stranger cannot forge a provider callback, nor learn which payments exist.

The attack: ``POST /api/v1/callbacks/<app>/<ms>/<route>`` with no credentials moved an UNKNOWN payment to
SUCCESS with the attacker's data, and 404 versus 200 told which unique ids exist. Every route's callback URL
now carries an unguessable token; only an audited opt-in (``"callback": {"auth": "none"}``) drops it.
"""

import json
import threading
import uuid

import pytest
import requests

from tests.downstream import Downstream
from tests.factories import CALLBACK_URLS, Integrator
from tests.follow_up.test_provider_callbacks import notify
from tests.follow_up.test_unknown_outcome import configure
from tests.portal.conftest import FINAL_PASSWORD, PortalSession, create_user


def provider_down(path, headers, body):
    return 500, {"oops": True}, 0


@pytest.fixture
def route(admin, base_url, downstream):
    """A generic_json route (a CALLBACK function, no signature) and the callback URL its assignment gave."""
    service = admin.create_service(downstream.url + "/pay")
    client = admin.create_client()
    assigned = admin.assign(client, service)
    integrator = Integrator(base_url, client, service)
    integrator.callback_url = base_url + assigned["callback_url"]  # a path: MOSPAY_PUBLIC_URL is unset here
    return integrator


@pytest.fixture
def unknown_payment(route, downstream):
    downstream.behaviour = provider_down
    answer = route.pay().json()
    assert answer["status"] == "UNKNOWN"
    return answer


def bare_url(route):
    """The route's callback URL as a stranger can guess it: everything but the token."""
    return route.callback_url.split("?")[0]


def forge(url, payload):
    return requests.post(url, json=payload, timeout=5)


def state(db, ref):
    return db("SELECT status, answer FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def test_a_stranger_cannot_settle_an_unknown_payment(route, unknown_payment, db):
    forged = {"unique_id": unknown_payment["unique_id"], "status": "SUCCESS", "code": "PAID",
              "data": {"receipt": "attacker"}}
    for url in (bare_url(route), bare_url(route) + "?token=", bare_url(route) + "?token=" + "A" * 43,
                bare_url(route) + "?token=" + route.callback_url.split("token=")[1][:-1]):
        response = forge(url, forged)
        assert response.status_code == 401 and response.json()["error"]["code"] == "UNAUTHORIZED", url

    assert state(db, unknown_payment["transaction_ref"])["status"] == "UNKNOWN"
    assert db("SELECT count(*) AS n FROM mospay.provider_callbacks pc JOIN mospay.transactions t "
              "ON t.id = pc.transaction_id WHERE t.ref = %s::uuid", (unknown_payment["transaction_ref"],))[0]["n"] == 0


def test_another_routes_token_does_not_open_this_route(admin, base_url, downstream, route, unknown_payment, db):
    service = admin.create_service(downstream.url + "/pay")
    attacker = admin.create_client()
    attackers_url = admin.assign(attacker, service)["callback_url"]
    stolen_token = attackers_url.split("token=")[1]

    response = forge(f"{bare_url(route)}?token={stolen_token}",
                     {"unique_id": unknown_payment["unique_id"], "status": "SUCCESS"})

    assert response.status_code == 401
    assert state(db, unknown_payment["transaction_ref"])["status"] == "UNKNOWN"


def test_unknown_and_known_ids_and_routes_get_the_same_answer(route, unknown_payment):
    known = forge(bare_url(route), {"unique_id": unknown_payment["unique_id"], "status": "SUCCESS"})
    unknown_id = forge(bare_url(route), {"unique_id": str(uuid.uuid4()), "status": "SUCCESS"})
    unknown_route = forge(bare_url(route).replace(route.client["app_id"], "nosuchapp"), {"status": "SUCCESS"})

    answers = [(r.status_code, r.json(), r.headers.get("WWW-Authenticate")) for r in (known, unknown_id, unknown_route)]
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401


def test_the_provider_with_the_given_url_settles_it(route, unknown_payment, db):
    response = forge(route.callback_url, {"unique_id": unknown_payment["unique_id"], "status": "SUCCESS",
                                          "code": "PAID"})

    assert response.status_code == 200 and response.json()["outcome"] == "applied"
    assert state(db, unknown_payment["transaction_ref"])["status"] == "SUCCESS"


def test_the_token_is_stored_sealed_and_never_logged(route, unknown_payment, db):
    token = route.callback_url.split("token=")[1]
    forge(route.callback_url, {"unique_id": unknown_payment["unique_id"], "status": "FAILED"})

    for table in ("client_services", "audit_log", "api_logs", "provider_callbacks"):
        dump = json.dumps([dict(r) for r in db(f"SELECT * FROM mospay.{table}")], default=str)
        assert token not in dump, table
    sealed = db("SELECT callback_token_sealed FROM mospay.client_services WHERE callback_function = %s",
                (f"CALLBACK_{route.client['app_id']}_{route.service['microservice']}_payment",))[0]
    assert sealed["callback_token_sealed"]


def test_an_unauthenticated_route_is_an_audited_opt_in_flagged_in_the_portal(admin, base_url, downstream, db):
    service = admin.create_service(downstream.url + "/pay", callback={"auth": "none"})
    client = admin.create_client()
    assigned = admin.assign(client, service)
    opted_out = Integrator(base_url, client, service)
    downstream.behaviour = provider_down
    unknown = opted_out.pay().json()

    assert "token=" not in assigned["callback_url"]
    response = forge(base_url + assigned["callback_url"], {"unique_id": unknown["unique_id"], "status": "FAILED"})
    assert response.status_code == 200  # the operator chose this
    key = f"{service['microservice']}.collection.payment"
    audited = db("SELECT actor, after FROM mospay.audit_log WHERE action = 'service.callback_unauthenticated' "
                 "AND target = %s", (key,))
    assert audited == [{"actor": "admin", "after": {"callback": {"auth": "none"}}}]
    detail = admin.get(f"/clients/{client['app_id']}").json()["services"][0]
    assert detail["callback_unauthenticated"] is True

    portal = PortalSession(base_url)
    username = create_user(admin, "viewer")
    portal.sign_in(username, "first-password-1")
    portal.post("/portal/password", data={"current_password": "first-password-1", "new_password": FINAL_PASSWORD,
                                          "confirm": FINAL_PASSWORD, "csrf_token": portal.token("/portal/password")})
    page = portal.get(f"/portal/clients/{client['app_id']}").text
    assert 'id="callbacks-unauthenticated"' in page and "callbacks unauthenticated" in page


def test_a_signed_route_still_needs_its_token(admin, base_url, downstream):
    service = admin.create_service(downstream.url + "/pay", callback={"hmac_header": "X-Signature",
                                                                      "secret": "provider-shared-secret-0123456789"})
    client = admin.create_client()
    url = base_url + admin.assign(client, service)["callback_url"]

    assert forge(url.split("?")[0], {"status": "SUCCESS"}).status_code == 401
    assert forge(url, {"status": "SUCCESS"}).json()["error"]["code"] == "INVALID_SIGNATURE"


# --- Trust, then verify: a token alone is not enough to mark a payment paid where the provider can be asked.

@pytest.fixture
def own_provider(admin, base_url):
    """A provider of its own (its own circuit breaker: earlier stories' 5xx answers do not count against it)."""
    server = Downstream()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    client = admin.create_client()
    service = admin.create_service(server.url + "/pay")
    admin.assign(client, service)
    yield server, Integrator(base_url, client, service)
    server.shutdown()


@pytest.mark.parametrize("provider_says, expected_status, expected_http", [
    ({"status": "PENDING"}, "PENDING", 409),  # not confirmed: nothing changes, the provider is asked to resend
    ({"status": "FAILED", "code": "DECLINED"}, "FAILED", 200),  # the provider's own API has the last word
    ({"status": "SUCCESS", "code": "FOUND"}, "SUCCESS", 200),
])
def test_a_callback_claiming_success_is_confirmed_by_the_status_query(base_url, rt, config, own_provider, db,
                                                                      provider_says, expected_status, expected_http):
    downstream, integrator = own_provider
    configure(rt, config, integrator, status_query={"url": downstream.url + "/status/{transaction_ref}"})
    downstream.behaviour = lambda path, headers, body: (
        (200, provider_says, 0) if path.startswith("/status/") else (200, {"status": "PENDING", "code": "LATER"}, 0))
    paid = integrator.pay().json()
    assert paid["status"] == "PENDING"

    response = notify(base_url, integrator, {"transaction_ref": paid["transaction_ref"], "status": "SUCCESS",
                                             "code": "PAID"})

    assert response.status_code == expected_http, response.text
    row = db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (paid["transaction_ref"],))[0]
    assert row["status"] == expected_status
    assert downstream.received[-1]["path"] == f"/status/{paid['transaction_ref']}"
    if expected_http == 409:
        assert response.json()["error"]["code"] == "NOT_CONFIRMED"


def test_a_leaked_token_is_rotated_and_stops_working(base_url, admin, integrator, downstream, db):
    """An operator who suspects a leak rotates the route's token: the old URL is refused, the new one works."""
    downstream.behaviour = lambda path, headers, body: (200, {"status": "PENDING", "code": "LATER"}, 0)
    paid = integrator.pay().json()
    old_url = CALLBACK_URLS[(base_url, integrator.client["app_id"], integrator.service["microservice"],
                             integrator.service["route"])]
    key = f"{integrator.service['microservice']}/{integrator.service['service']}/{integrator.service['route']}"

    rotated = admin.post(f"/clients/{integrator.client['app_id']}/services/{key}/callback-token")

    assert rotated.status_code == 200, rotated.text
    new_url = rotated.json()["callback_url"]
    assert "token=" in new_url and new_url.split("token=")[1] != old_url.split("token=")[1]
    news = {"transaction_ref": paid["transaction_ref"], "status": "SUCCESS", "code": "PAID"}
    assert requests.post(old_url, json=news, timeout=10).status_code == 401
    assert requests.post(base_url + new_url if new_url.startswith("/") else new_url, json=news,
                         timeout=10).status_code == 200
    assert db("SELECT count(*) AS n FROM mospay.audit_log WHERE action = 'route.callback_token.rotate'")[0]["n"] == 1
