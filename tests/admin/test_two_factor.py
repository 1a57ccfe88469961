"""TOTP two-factor sign-in with MOSPAY_REQUIRE_TOTP on: admins and DBAs enrol first; the admin API's token
endpoint then wants a ``totp`` code (each accepted once) or a recovery code (single use); secrets sealed."""

import time

import pyotp
import pytest
import requests

from config import Config
from gateway.admin import users
from tests.conftest import TEST_SETTINGS
from tests.factories import unique_name
from tests.portal.conftest import PortalSession

PASSWORD = "two-factor-pass-1"


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    """This module's switch requires two-factor sign-in, as production does by default."""
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"), **TEST_SETTINGS,
                  REQUIRE_TOTP=True)


def make_user(rt, role):
    """A user who has already chosen their password (the forced change is tested elsewhere)."""
    username = unique_name(role)
    users.create_user(rt, {"username": username, "role": role, "password": "first-password-1"}, "test")
    user = users.authenticate(rt, username, "first-password-1")
    users.change_password(rt, user, {"current_password": "first-password-1", "new_password": PASSWORD})
    return username


def token(base_url, username, **body):
    return requests.post(f"{base_url}/api/v1/admin/token", auth=(username, PASSWORD), json=body or None)


def enrol(base_url, username):
    """Sign in to the portal, enrol (the secret read off the page, as a person types it), keep the codes."""
    session = PortalSession(base_url)
    session.sign_in(username, PASSWORD)
    begun = session.submit("/portal/two-factor", {"step": "begin"}, form_page="/portal/two-factor")
    assert begun.status_code == 200 and begun.headers["Cache-Control"] == "no-store"
    secret = begun.text.split('id="totp-secret" value="')[1].split('"')[0]
    uri = begun.text.split('id="totp-uri" value="')[1].split('"')[0]
    assert uri.startswith("otpauth://totp/MosPay:") and f"secret={secret}" in uri
    wrong = session.post("/portal/two-factor", data={"code": "000000", "csrf_token": csrf(begun.text)})
    assert wrong.status_code == 302  # refused, flashed; the enrolment stays pending
    begun = session.submit("/portal/two-factor", {"step": "begin"}, form_page="/portal/two-factor")
    secret = begun.text.split('id="totp-secret" value="')[1].split('"')[0]
    done = session.post("/portal/two-factor", data={"code": pyotp.TOTP(secret).now(), "csrf_token": csrf(begun.text)})
    assert done.status_code == 200 and 'id="two-factor-on"' in done.text
    codes = done.text.split('id="recovery-codes">')[1].split("</pre>")[0].split()
    assert len(codes) == 10
    return session, secret, codes


def csrf(html):
    return html.split('name="csrf_token" type="hidden" value="')[1].split('"')[0] if 'type="hidden" value="' in html \
        else html.split('name="csrf_token" value="')[1].split('"')[0]


def next_code(secret):
    """The code of the next 30-second step: accepted (clock drift), and never the one just used."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_an_admin_must_enrol_before_anything_else(base_url, rt):
    username = make_user(rt, "admin")
    refused = token(base_url, username)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "TOTP_ENROLMENT_REQUIRED"
    session = PortalSession(base_url)
    session.sign_in(username, PASSWORD)
    assert session.get("/portal/clients").headers["Location"].endswith("/portal/two-factor")
    assert "required for your role" in session.get("/portal/two-factor").text


def test_a_viewer_is_not_required_to(base_url, rt):
    assert token(base_url, make_user(rt, "viewer")).status_code == 200


def test_the_token_endpoint_wants_a_code_once_enrolled(base_url, rt, db):
    username = make_user(rt, "dba")
    session, secret, codes = enrol(base_url, username)
    assert session.get("/portal/functions").status_code == 200  # enrolled: the portal opens

    missing = token(base_url, username)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "TOTP_REQUIRED"
    code = next_code(secret)
    assert token(base_url, username, totp=code).status_code == 200
    replayed = token(base_url, username, totp=code)
    assert replayed.status_code == 401 and replayed.json()["error"]["code"] == "TOTP_REQUIRED"
    assert token(base_url, username, totp=codes[0].upper()).status_code == 200  # a recovery code, once
    assert token(base_url, username, totp=codes[0]).status_code == 401
    odd = token(base_url, username, totp=12345, extra=1)
    assert odd.status_code == 400 and set(odd.json()["error"]["details"]) == {"totp", "extra"}

    row = db("SELECT totp_secret_sealed, recovery_hashes FROM mospay.users WHERE username = %s", (username,))[0]
    assert secret not in row["totp_secret_sealed"] and rt.sealer.open(row["totp_secret_sealed"]) == secret
    assert len(row["recovery_hashes"]) == 9 and not set(codes) & set(row["recovery_hashes"])


def test_wrong_codes_lock_like_wrong_passwords(base_url, rt):
    username = make_user(rt, "admin")
    _, secret, _ = enrol(base_url, username)
    for guess in range(10):
        assert token(base_url, username, totp=f"{guess:06d}").status_code == 401
    locked = token(base_url, username, totp=next_code(secret))
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "TOO_MANY_ATTEMPTS"


def test_the_portal_asks_for_the_code_after_the_password(base_url, rt):
    username = make_user(rt, "admin")
    _, secret, codes = enrol(base_url, username)
    session = PortalSession(base_url)
    assert session.sign_in(username, PASSWORD).headers["Location"].startswith("/portal/login/second-factor")
    assert session.get("/portal/clients").headers["Location"].startswith("/portal/login")  # not signed in yet
    page = "/portal/login/second-factor"
    wrong = session.post(page, data={"code": "123456", "csrf_token": session.token(page)})
    assert wrong.status_code == 401
    right = session.post(page, data={"code": next_code(secret), "csrf_token": session.token(page)})
    assert right.status_code == 302 and session.get("/portal/clients").status_code == 200


def test_an_admin_resets_a_lost_authenticator(base_url, rt):
    username = make_user(rt, "dba")
    enrol(base_url, username)
    admin = make_user(rt, "admin")
    _, secret, _ = enrol(base_url, admin)
    bearer = token(base_url, admin, totp=next_code(secret)).json()["access_token"]
    reset = requests.post(f"{base_url}/api/v1/admin/users/{username}/two-factor/reset",
                          headers={"Authorization": f"Bearer {bearer}"})
    assert reset.status_code == 200 and reset.json() == {"username": username, "two_factor": False}
    assert token(base_url, username).json()["error"]["code"] == "TOTP_ENROLMENT_REQUIRED"


def test_the_users_page_shows_two_factor_and_an_admin_resets_it_there(base_url, rt, db):
    dba = make_user(rt, "dba")
    enrol(base_url, dba)
    session, _, _ = enrol(base_url, make_user(rt, "admin"))
    page = session.get("/portal/users").text
    assert f'id="reset-two-factor-{dba}"' in page
    reset = session.submit(f"/portal/users/{dba}/two-factor/reset", {"confirmed": "yes"}, form_page="/portal/users")
    assert reset.status_code == 302
    assert "turned off" in session.get("/portal/users").text
    assert db("SELECT totp_confirmed_at FROM mospay.users WHERE username = %s", (dba,))[0]["totp_confirmed_at"] is None
    assert db("SELECT actor FROM mospay.audit_log WHERE action = 'user.two_factor_reset' AND target = %s",
              (dba,))[0]["actor"] != "cli"
