"""Portal security over real HTTP: sign-in, throttling, forced password change, CSRF, roles, escaping, headers."""

import base64
import json
import zlib

import pytest
import requests

from tests.factories import DEFAULT_FIELDS, unique_name
from tests.portal.conftest import PortalSession, create_user


@pytest.fixture(scope="module")
def route(admin):
    """A client with one assigned service (the request function is ``fn``)."""
    client = admin.create_client(name="Route Owner")
    service = admin.create_service("http://127.0.0.1:9/pay")
    admin.assign(client, service)
    fn = f"{client['app_id']}_{service['microservice']}_payment"
    return {"app_id": client["app_id"], "ms": service["microservice"], "fn": fn,
            "ref": "5f0c2a9e-8d1b-4c7e-9a43-2b6f1d0e7c55"}


# Every state-changing portal route (method, path). A new one must be added here: see
# test_every_mutating_route_is_listed.
MUTATING = [
    ("POST", "/portal/clients/new"),
    ("POST", "/portal/integrations/new"),
    ("POST", "/portal/routes/{app_id}/ms/collection/payment/edit"),
    ("POST", "/portal/integrations/{app_id}/ms/collection/payment/test"),
    ("POST", "/portal/clients/{app_id}/rotate"),
    ("POST", "/portal/clients/{app_id}/activate"),
    ("POST", "/portal/clients/{app_id}/deactivate"),
    ("POST", "/portal/clients/{app_id}/assign"),
    ("POST", "/portal/clients/{app_id}/routes/{ms}/collection/payment/unassign"),
    ("POST", "/portal/services/new"),
    ("POST", "/portal/services/{ms}/collection/payment/edit"),
    ("POST", "/portal/services/{ms}/collection/payment/provider-credentials"),
    ("POST", "/portal/clients/{app_id}/routes/{ms}/collection/payment/provider-credentials"),
    ("POST", "/portal/routes/{app_id}/{ms}/collection/payment/enable"),
    ("POST", "/portal/routes/{app_id}/{ms}/collection/payment/disable"),
    ("POST", "/portal/users"),
    ("POST", "/portal/users/admin/update"),
    ("POST", "/portal/functions/{fn}/edit"),
    ("POST", "/portal/functions/{fn}/rollback"),
    ("POST", "/portal/functions/{fn}/record-drift"),
    ("POST", "/portal/functions/{fn}/regenerate"),
    ("POST", "/portal/functions/{fn}/test"),
    ("POST", "/portal/deliveries/1/resend"),
    ("POST", "/portal/attention/{ref}/propose"),
    ("POST", "/portal/resolutions/1/approve"),
    ("POST", "/portal/resolutions/1/reject"),
    ("POST", "/portal/clients/{app_id}/users"),
    ("POST", "/portal/clients/{app_id}/users/1/deactivate"),
    ("POST", "/portal/users/admin/two-factor/reset"),
    ("POST", "/portal/reconciliation/runs"),
    ("POST", "/portal/reconciliation/mappings/{ms}"),
    ("POST", "/portal/alerts/1/acknowledge"),
    ("POST", "/portal/alerts/rules"),
    ("POST", "/portal/alerts/rules/1/disable"),
]
# Every signed-in user may use these (two-factor: one's own sign-in).
SIGN_IN_ROUTES = {"portal.login", "portal.logout", "portal.password", "portal.second_factor", "portal.two_factor_page"}


def test_every_mutating_route_is_listed(app):
    listed = {path.split("{")[0].rstrip("/") for _, path in MUTATING}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("portal.") and "POST" in rule.methods and rule.endpoint not in SIGN_IN_ROUTES:
            prefix = rule.rule.split("<")[0].rstrip("/")
            assert any(p.startswith(prefix) for p in listed), f"{rule.rule} is not in MUTATING"


@pytest.mark.parametrize("method, path", MUTATING)
def test_a_viewer_cannot_change_anything(portal_as, route, admin, method, path):
    viewer = portal_as("viewer")
    before = admin.get(f"/clients/{route['app_id']}").json()
    versions = admin.get(f"/functions/{route['fn']}/versions").json()["versions"]

    response = viewer.submit(path.format(**route), {"name": "x", "version": "1", "source": "x", "force": "yes",
                                                    "service": f"{route['ms']}/collection/payment"})

    assert response.status_code == 403, response.text
    assert "text/html" in response.headers["Content-Type"] and "may not do this" in response.text
    assert admin.get(f"/clients/{route['app_id']}").json() == before
    assert admin.get(f"/functions/{route['fn']}/versions").json()["versions"] == versions


@pytest.mark.parametrize("path", ["/portal/clients/new", "/portal/services/new", "/portal/users",
                                  "/portal/services/{ms}/collection/payment/edit", "/portal/functions/{fn}/edit",
                                  "/portal/functions/{fn}/test"])
def test_a_viewer_is_not_even_shown_the_forms(portal_as, route, path):
    assert portal_as("viewer").get(path.format(**route)).status_code == 403


def test_a_dba_edits_functions_but_not_clients(portal_as, route):
    dba = portal_as("dba")
    assert dba.get(f"/portal/functions/{route['fn']}/edit").status_code == 200
    assert dba.submit(f"/portal/clients/{route['app_id']}/deactivate").status_code == 403


def test_a_post_without_the_csrf_token_is_refused(portal_as, admin):
    session = portal_as("admin")
    name = unique_name("nocsrf")
    refused = session.post("/portal/clients/new", data={"name": name, "app_id": name})
    assert refused.status_code == 400 and "security token" in refused.text
    wrong = session.post("/portal/clients/new", data={"name": name, "app_id": name, "csrf_token": "forged"})
    assert wrong.status_code == 400
    assert admin.get(f"/clients/{name}").status_code == 404
    assert session.submit("/portal/clients/new", {"name": name, "app_id": name}).status_code == 200


def test_the_json_api_needs_no_csrf_token(admin):
    assert admin.post("/clients", {"name": "API client"}).status_code == 201


def test_a_name_with_a_script_tag_renders_inert(portal_as, admin):
    session = portal_as("admin")
    name = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    created = session.submit("/portal/clients/new", {"name": name, "app_id": unique_name("xss")})
    app_id = created.text.split('id="cred-app-id"')[0].rsplit('value="', 1)[1].split('"')[0]
    for page in (created.text, session.get(f"/portal/clients/{app_id}").text, session.get("/portal/clients").text,
                 session.get("/portal/audit").text):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(" in page


def test_pages_need_a_signed_in_user(base_url):
    response = requests.get(f"{base_url}/portal/clients", allow_redirects=False)
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]
    assert requests.get(f"{base_url}/", allow_redirects=False).headers["Location"].endswith("/portal/")


def test_security_headers_and_session_cookie(base_url, portal_as):
    response = requests.get(f"{base_url}/portal/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    cookie = response.headers["Set-Cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert "<script>" not in response.text.replace('<script src="', "")  # no inline script at all


def test_the_forced_password_change_comes_first(base_url, admin):
    username = create_user(admin, "viewer")
    session = PortalSession(base_url)
    assert session.sign_in(username, "first-password-1").headers["Location"].endswith("/portal/password")
    assert session.get("/portal/transactions").headers["Location"].endswith("/portal/password")
    mismatch = session.post("/portal/password", data={"current_password": "first-password-1",
                                                       "new_password": "new-password-123", "confirm": "other-one-123",
                                                       "csrf_token": session.token("/portal/password")})
    assert mismatch.status_code == 200 and "The two passwords differ." in mismatch.text
    wrong = session.post("/portal/password", data={"current_password": "not-it", "new_password": "new-password-123",
                                                    "confirm": "new-password-123",
                                                    "csrf_token": session.token("/portal/password")})
    assert wrong.status_code == 400 and "is not your current password" in wrong.text
    changed = session.post("/portal/password", data={"current_password": "first-password-1",
                                                      "new_password": "new-password-123", "confirm": "new-password-123",
                                                      "csrf_token": session.token("/portal/password")})
    assert changed.status_code == 302
    assert session.get("/portal/transactions").status_code == 200


def test_sign_in_is_throttled_per_user_and_address(base_url, admin):
    username = create_user(admin, "viewer")
    session = PortalSession(base_url)
    for guess in range(5):  # five different guesses (one wrong password repeated locks only itself)
        failed = session.post("/portal/login", data={"username": username, "password": f"wrong-{guess}",
                                                     "csrf_token": session.token("/portal/login")})
        assert failed.status_code == 401 and "Wrong username or password." in failed.text
    locked = session.post("/portal/login", data={"username": username, "password": "first-password-1",
                                                 "csrf_token": session.token("/portal/login")})
    assert locked.status_code == 429 and "Too many failed attempts" in locked.text
    other = PortalSession(base_url)  # another user is not locked out
    other.sign_in(create_user(admin, "viewer"), "first-password-1")


def test_credentials_are_shown_once_and_never_put_in_the_session(portal_as):
    session = portal_as("admin")
    created = session.submit("/portal/clients/new", {"name": "Once Only", "app_id": unique_name("once")})
    password = created.text.split('id="cred-password"')[0].rsplit('value="', 1)[1].split('"')[0]
    assert len(password) >= 16 and created.headers["Cache-Control"] == "no-store"
    for cookie in session.cookies:
        assert password not in _session_payload(cookie.value)
    assert password not in session.get("/portal/clients").text


def _session_payload(value):
    payload = value.lstrip(".").split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    return zlib.decompress(raw).decode() if value.startswith(".") else raw.decode(errors="replace")


def test_portal_errors_are_html_and_api_errors_stay_json(base_url, portal_as):
    session = portal_as("viewer")
    missing = session.get("/portal/clients/no_such_client")
    assert missing.status_code == 404 and "text/html" in missing.headers["Content-Type"]
    unrouted = session.get("/portal/no/such/page")
    assert unrouted.status_code == 404 and "text/html" in unrouted.headers["Content-Type"]
    api = requests.get(f"{base_url}/api/v1/admin/no-such-thing")
    assert api.status_code == 404 and json.loads(api.text)["error"]["code"] == "NOT_FOUND"


def test_a_service_with_bad_field_rules_is_refused_on_the_row(portal_as):
    session = portal_as("admin")
    data = {"microservice": unique_name("ms"), "service": "collection", "route": "payment",
            "url": "http://127.0.0.1:9/pay", "method": "POST", "timeout_ms": "2000", "template": "generic_json"}
    for index, field in enumerate(DEFAULT_FIELDS):
        data[f"fields-{index}-use"] = "y"
        data[f"fields-{index}-name"] = field["name"]
        data[f"fields-{index}-type"] = field["type"]
    data["fields-0-pattern"] = "(unclosed"
    refused = session.submit("/portal/services/new", data)
    assert refused.status_code == 400 and "must be a valid regular expression" in refused.text
