"""The client portal in a real browser (Chromium through Playwright), including the isolation attempts.

An admin invites a developer of a client app from the admin portal's client page; the developer opens the
link, chooses a password, sends a test payment from the routes page and watches its lifecycle, rotates the
API secret (shown once), and finds nothing of another client by guessing URLs. The admin's own browser
session does not open the client portal, and the developer's does not open the admin portal.
"""

import re
import time

import pyotp
import pytest

from tests.client_portal.conftest import CLIENT_PASSWORD
from tests.factories import Integrator

pytestmark = pytest.mark.slow


def shot(page, screenshots, name):
    page.screenshot(path=str(screenshots / f"client-{name}.png"), full_page=True)


def test_a_developer_is_invited_pays_on_a_test_route_and_sees_only_their_app(
        page, browser, base_url, admin, downstream, portal_as, screenshots):
    client = admin.create_client(name="Browser Shop")
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    other = admin.create_client()
    other_service = admin.create_service(downstream.url + "/pay")
    admin.assign(other, other_service)
    foreign = Integrator(base_url, other, other_service).pay().json()["transaction_ref"]

    # The admin invites the developer from the client's page; the link is shown once.
    session = portal_as("admin")
    page.context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
    page.goto(f"/portal/clients/{client['app_id']}")
    page.fill("#invite-email", "dev@browser-shop.example")
    page.click("#invite")
    link = page.input_value("#invitation-url")
    assert "/client/invitation/" in link
    # The admin's session is not a client session.
    page.goto("/client/")
    page.wait_for_url(re.compile(r"/client/login"))

    developer = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    developer.set_default_timeout(15_000)
    dev = developer.new_page()
    dev.goto(link)
    dev.fill("#password", CLIENT_PASSWORD)
    dev.fill("#confirm", CLIENT_PASSWORD)
    dev.click("#accept-invitation")
    dev.wait_for_url(re.compile(r"/client/$"))
    assert "dev@browser-shop.example" in dev.inner_text("#signed-in-as")

    # Routes: field rules, a sample and a curl; the test payment runs through the switch and shows its lifecycle.
    dev.click("text=Routes & test payment")
    assert "curl -s -u" in dev.inner_text(f"#curl-{service['microservice']}-payment")
    shot(dev, screenshots, "routes")
    dev.click(f"#test-{service['microservice']}-payment")
    dev.wait_for_url(re.compile(r"/client/payments/[0-9a-f-]{36}$"))
    assert "SUCCESS" in dev.inner_text("#tx-status")
    assert dev.locator("#timeline rect").count() >= 5  # auth … finish: each stage of the pipeline
    shot(dev, screenshots, "test-payment")
    dev.click("text=Payments")
    assert dev.locator("#payments-table tbody tr[data-ref]").count() == 1

    # Isolation: another client's real payment answers like a made-up one; the admin portal stays closed.
    dev.goto(f"/client/payments/{foreign}")
    assert "404" in dev.inner_text("#error-page")
    dev.goto("/portal/")
    dev.wait_for_url(re.compile(r"/portal/login"))

    # The API secret: rotated after a confirmation, shown once.
    dev.goto("/client/credentials")
    dev.once("dialog", lambda dialog: dialog.accept())
    dev.click("#rotate-secret")
    new_password = dev.input_value("#new-password")
    assert len(new_password) >= 16
    dev.goto("/client/credentials")
    assert new_password not in dev.content()
    developer.close()


def test_a_client_user_turns_on_two_factor_and_signs_in_with_it(page, base_url, admin):
    client = admin.create_client()
    email = f"twofactor-{client['app_id']}@example.com"
    link = admin.post(f"/clients/{client['app_id']}/users", {"email": email}).json()["invitation_path"]
    page.goto(link)
    page.fill("#password", CLIENT_PASSWORD)
    page.fill("#confirm", CLIENT_PASSWORD)
    page.click("#accept-invitation")
    page.wait_for_url(re.compile(r"/client/$"))

    page.click("text=Two-factor sign-in")
    page.click("#begin-two-factor")
    secret = page.input_value("#totp-secret")
    assert page.input_value("#totp-uri").startswith("otpauth://totp/MosPay:")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#confirm-two-factor")
    assert len(page.inner_text("#recovery-codes").split()) == 10

    page.click("#user-menu")
    page.click("#logout")
    page.fill("#email", email)
    page.fill("#password", CLIENT_PASSWORD)
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/client/login/second-factor"))
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))  # the next step's code: never the one just used
    page.click("#verify-code")
    page.wait_for_url(re.compile(r"/client/$"))
