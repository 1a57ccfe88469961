"""The client portal over real HTTP: an integrator's people see and change their own app, and nothing else."""

import csv
import io

import requests

from tests.client_portal.conftest import CLIENT_PASSWORD, ClientSession, invite
from tests.factories import Integrator
from tests.follow_up.test_provider_callbacks import notify, pending
from tests.portal.conftest import PortalSession


def test_an_invitation_sets_a_password_once_and_signs_in(base_url, admin):
    client = admin.create_client()
    email, path = invite(admin, client["app_id"])
    listed = admin.get(f"/clients/{client['app_id']}/users").json()["users"]
    assert [(u["email"], u["accepted"]) for u in listed] == [(email, False)]

    session = ClientSession(base_url)
    assert session.accept(path).headers["Location"].endswith("/client/")
    assert email in session.get("/client/").text
    reused = ClientSession(base_url).get(path)
    assert reused.status_code == 404 and "not valid" in reused.text
    assert admin.get(f"/clients/{client['app_id']}/users").json()["users"][0]["accepted"] is True

    fresh = ClientSession(base_url)
    fresh.sign_in(email.upper())  # the address is matched whatever its case
    assert fresh.get("/client/credentials").status_code == 200


def test_an_address_has_one_account_and_bad_input_is_a_precise_400(admin):
    first, second = admin.create_client(), admin.create_client()
    email, _ = invite(admin, first["app_id"])
    again = admin.post(f"/clients/{first['app_id']}/users", {"email": email})
    assert again.status_code == 201  # a new link; the old one stops
    taken = admin.post(f"/clients/{second['app_id']}/users", {"email": email})
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "ALREADY_EXISTS"
    bad = admin.post(f"/clients/{first['app_id']}/users", {"email": "not-an-address"})
    assert bad.status_code == 400 and "email" in bad.json()["error"]["details"]
    assert admin.post("/clients/no_such_app/users", {"email": "x@example.com"}).status_code == 404


def test_a_client_user_sees_their_payments_and_never_another_clients(shop, admin, downstream, base_url):
    mine, session, _ = shop
    other = admin.create_client()
    other_service = admin.create_service(downstream.url + "/pay")
    admin.assign(other, other_service)
    theirs = Integrator(base_url, other, other_service)
    paid = mine.pay(mine.message(f010="mine-0001")).json()
    foreign = theirs.pay(theirs.message(f010="theirs-0001")).json()

    listed = session.get("/client/").text
    assert "mine-0001" in listed and "theirs-0001" not in listed
    # Asking for the other client by name changes nothing: the filter is forced to one's own app.
    assert "theirs-0001" not in session.get(f"/client/?client={other['app_id']}").text
    detail = session.get(f"/client/payments/{paid['transaction_ref']}")
    assert detail.status_code == 200 and "mine-0001" in detail.text and 'id="timeline"' in detail.text
    # URL guessing: another client's real reference answers exactly like a made-up one.
    guessed = session.get(f"/client/payments/{foreign['transaction_ref']}")
    made_up = session.get("/client/payments/5f0c2a9e-8d1b-4c7e-9a43-2b6f1d0e7c55")
    assert guessed.status_code == made_up.status_code == 404
    assert "theirs-0001" not in guessed.text

    exported = session.get(f"/client/payments.csv?client={other['app_id']}")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert {row["app_id"] for row in rows} == {mine.client["app_id"]}
    assert "mine-0001" in {row["unique_id"] for row in rows}

    logs = session.get("/client/api-logs").text
    assert paid["transaction_ref"] in logs and foreign["transaction_ref"] not in logs


def test_the_payment_page_shows_the_masked_request_and_answer_and_nothing_of_the_provider(shop, downstream):
    mine, session, _ = shop
    paid = mine.pay(mine.message(f007="pin-4321-zz", f008="very-secret-pin-99")).json()
    page = session.get(f"/client/payments/{paid['transaction_ref']}").text
    assert 'id="tx-request"' in page and 'id="tx-answer"' in page and paid["transaction_ref"] in page
    assert "very-secret-pin-99" not in page and "pin-4321-zz" not in page
    assert downstream.url not in page and 'id="tx-downstream-request"' not in page


def test_callback_deliveries_are_listed_and_resent_only_for_ones_own_app(base_url, admin, downstream, db):
    downstream.behaviour = pending  # payments answer PENDING; the provider's callback settles them later
    shops = []
    for _ in range(2):
        client = admin.create_client(callback_url="http://127.0.0.1:9/hook")
        service = admin.create_service(downstream.url + "/pay")
        admin.assign(client, service)
        shop = Integrator(base_url, client, service)
        ref = shop.pay().json()["transaction_ref"]
        assert notify(base_url, shop, {"transaction_ref": ref, "status": "SUCCESS", "code": "DONE"}).status_code == 200
        delivery = db("SELECT j.id FROM mospay.jobs j JOIN mospay.transactions t ON t.id = j.transaction_id "
                      "WHERE t.ref = %s::uuid AND j.kind = 'client_callback'", (ref,))[0]["id"]
        shops.append((shop, delivery))
    (mine, my_delivery), (_, their_delivery) = shops
    _, path = invite(admin, mine.client["app_id"])
    session = ClientSession(base_url)
    session.accept(path)

    page = session.get("/client/callbacks").text
    assert f'id="delivery-{my_delivery}"' in page and f'id="delivery-{their_delivery}"' not in page
    db("UPDATE mospay.jobs SET run_at = now() + interval '1 hour' WHERE id = ANY(%s) RETURNING id",
       ([my_delivery, their_delivery],))
    assert session.submit(f"/client/callbacks/{my_delivery}/resend", form_page="/client/callbacks").status_code == 302
    assert "queued again" in session.get("/client/callbacks").text
    # Changing the id in the URL reaches nothing of another client: the same answer as a missing one.
    session.submit(f"/client/callbacks/{their_delivery}/resend", form_page="/client/callbacks")
    assert f"No client callback delivery {their_delivery}" in session.get("/client/callbacks").text
    run_at = {row["id"]: row["due"] for row in db(
        "SELECT id, run_at <= now() AS due FROM mospay.jobs WHERE id = ANY(%s)", ([my_delivery, their_delivery],))}
    assert run_at == {my_delivery: True, their_delivery: False}


def test_rotating_the_api_secret_shows_it_once_and_the_old_one_stops(shop):
    mine, session, _ = shop
    asked = session.submit("/client/credentials/rotate", form_page="/client/credentials")
    assert asked.status_code == 200 and 'id="confirm-action"' in asked.text  # nothing changed yet
    assert mine.pay().status_code == 200
    rotated = session.submit("/client/credentials/rotate", {"confirmed": "yes"}, form_page="/client/credentials")
    assert rotated.status_code == 200 and rotated.headers["Cache-Control"] == "no-store"
    username = rotated.text.split('id="new-username" value="')[1].split('"')[0]
    password = rotated.text.split('id="new-password" value="')[1].split('"')[0]
    assert mine.pay().status_code == 401
    mine.auth = (username, password)
    assert mine.pay().status_code == 200
    page = session.get("/client/credentials").text
    assert password not in page and username in page and 'id="credential-last-used"' in page


def test_callback_url_and_signing_secret(shop, admin):
    mine, session, _ = shop
    saved = session.post("/client/credentials/callback-url", data={
        "callback_url": "https://shop.example/hook", "csrf_token": session.token("/client/credentials")})
    assert saved.status_code == 302
    assert admin.get(f"/clients/{mine.client['app_id']}").json()["callback_url"] == "https://shop.example/hook"
    bad = session.post("/client/credentials/callback-url", data={
        "callback_url": "ftp://nope", "csrf_token": session.token("/client/credentials")})
    assert bad.status_code == 302 and "callback_url" in session.get("/client/credentials").text
    secret = session.submit("/client/credentials/callback-secret", {"confirmed": "yes"},
                            form_page="/client/credentials")
    value = secret.text.split('id="new-callback-secret" value="')[1].split('"')[0]
    assert value.startswith("whsec_") and value not in session.get("/client/credentials").text


def test_routes_show_rules_sample_and_curl_and_a_test_payment_runs_the_lifecycle(shop, downstream, base_url):
    mine, session, _ = shop
    key = f"{mine.service['microservice']}/collection/payment"
    page = session.get("/client/routes").text
    assert key in page and "curl -s -u" in page and "/api/v1/payment/process" in page and "f004" in page
    sent = session.submit(f"/client/routes/{mine.service['microservice']}/collection/payment/test",
                          form_page="/client/routes")
    assert sent.status_code == 302 and "/client/payments/" in sent.headers["Location"]
    detail = session.get(sent.headers["Location"]).text
    assert "SUCCESS" in detail and "test-" in detail and 'id="timeline"' in detail
    assert any(r for r in downstream.received), "the provider received the test payment"
    other = session.submit("/client/routes/someone_else/collection/payment/test", form_page="/client/routes")
    assert other.status_code == 404
    # A forged Host header does not send the payment (nor the client token it carries) anywhere else.
    token = session.token("/client/routes")
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)  # requests would match cookies to the Host
    forged = requests.post(f"{base_url}/client/routes/{mine.service['microservice']}/collection/payment/test",
                           data={"csrf_token": token}, headers={"Host": "attacker.invalid:9", "Cookie": cookie},
                           allow_redirects=False)
    assert forged.status_code == 302 and "/client/payments/" in forged.headers["Location"]


def test_an_admin_session_is_no_client_session_and_the_reverse(shop, portal_as, base_url, admin):
    mine, client_session, _ = shop
    admin_session = portal_as("admin")
    # The admin portal's cookie does not reach /client/: an admin is asked to sign in there.
    assert admin_session.get("/client/").headers["Location"].startswith("/client/login")
    # A client user's cookie means nothing to the admin portal nor to the admin API.
    assert client_session.get("/portal/").headers["Location"].startswith("/portal/login")
    assert client_session.get(f"{base_url}/api/v1/admin/clients").status_code == 401
    # Even a client cookie replayed on /portal/ paths (a different name, path and signing salt) is not a session.
    stolen = PortalSession(base_url)
    for cookie in client_session.cookies:
        stolen.cookies.set("mospay_session", cookie.value, path="/")
    assert stolen.get("/portal/").headers["Location"].startswith("/portal/login")


def test_a_deactivated_user_or_client_is_signed_out(shop, admin, base_url):
    mine, session, email = shop
    user_id = admin.get(f"/clients/{mine.client['app_id']}/users").json()["users"][0]["id"]
    assert admin.post(f"/clients/{mine.client['app_id']}/users/{user_id}/deactivate").status_code == 200
    assert session.get("/client/").headers["Location"].startswith("/client/login")
    again = ClientSession(base_url)
    refused = again.post("/client/login", data={"email": email, "password": CLIENT_PASSWORD,
                                                "csrf_token": again.token("/client/login")})
    assert refused.status_code == 401


def test_client_sign_in_is_throttled_like_the_admin_portal(shop, base_url):
    _, _, email = shop
    session = ClientSession(base_url)
    for guess in range(5):
        failed = session.post("/client/login", data={"email": email, "password": f"wrong-{guess}",
                                                     "csrf_token": session.token("/client/login")})
        assert failed.status_code == 401
    locked = session.post("/client/login", data={"email": email, "password": CLIENT_PASSWORD,
                                                  "csrf_token": session.token("/client/login")})
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text


def test_posts_need_the_csrf_token(shop):
    _, session, _ = shop
    refused = session.post("/client/credentials/rotate", data={"confirmed": "yes"})
    assert refused.status_code == 400 and "security token" in refused.text


def test_pages_need_a_signed_in_client_user(base_url):
    for path in ("/client/", "/client/credentials", "/client/routes", "/client/api-logs", "/client/callbacks"):
        response = requests.get(base_url + path, allow_redirects=False)
        assert response.status_code == 302 and "/client/login" in response.headers["Location"]


def test_two_clients_people_each_see_only_their_own_app(base_url, admin, downstream):
    sessions, refs = [], []
    for name in ("north", "south"):  # each signed in to their own client app
        client = admin.create_client()
        service = admin.create_service(downstream.url + "/pay")
        admin.assign(client, service)
        refs.append(Integrator(base_url, client, service).pay(None).json()["transaction_ref"])
        _, path = invite(admin, client["app_id"], f"{name}-{client['app_id']}@example.com")
        session = ClientSession(base_url)
        session.accept(path)
        sessions.append((session, client, service))
    for (session, _client, service), own, other in ((sessions[0], refs[0], refs[1]), (sessions[1], refs[1], refs[0])):
        assert session.get(f"/client/payments/{own}").status_code == 200
        assert session.get(f"/client/payments/{other}").status_code == 404
        routes = session.get("/client/routes").text
        assert service["microservice"] in routes
        others = sessions[1][2] if service is sessions[0][2] else sessions[0][2]
        assert others["microservice"] not in routes
        assert session.submit(f"/client/routes/{others['microservice']}/collection/payment/test",
                              form_page="/client/routes").status_code == 404


def test_an_expired_invitation_is_refused(base_url, admin, db):
    client = admin.create_client()
    email, path = invite(admin, client["app_id"])
    db("UPDATE mospay.client_users SET invitation_expires_at = now() - interval '1 second' WHERE email = %s "
       "RETURNING id", (email,))
    session = ClientSession(base_url)
    assert session.get(path).status_code == 404
    refused = session.post("/client/login", data={"email": email, "password": CLIENT_PASSWORD,
                                                  "csrf_token": session.token("/client/login")})
    assert refused.status_code == 401  # no password was ever set


def test_inviting_an_account_again_resets_its_password_and_ends_its_sessions(shop, admin, base_url):
    mine, session, email = shop
    _, path = invite(admin, mine.client["app_id"], email)
    assert session.get("/client/").headers["Location"].startswith("/client/login")  # signed out
    refused = ClientSession(base_url)
    failed = refused.post("/client/login", data={"email": email, "password": CLIENT_PASSWORD,
                                                 "csrf_token": refused.token("/client/login")})
    assert failed.status_code == 401  # the old password stopped
    fresh = ClientSession(base_url)
    fresh.accept(path, password="a-brand-new-pass-2")
    assert fresh.get("/client/credentials").status_code == 200
