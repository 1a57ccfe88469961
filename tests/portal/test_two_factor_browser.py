"""Two-factor sign-in in the admin portal, in a real browser: an admin enrols (secret and otpauth URI shown
once, no QR service), keeps the recovery codes, signs out, and signs in with password + code, then once more
with a recovery code, which does not work twice."""

import re
import time

import pyotp
import pytest

from tests.portal.conftest import FINAL_PASSWORD

pytestmark = pytest.mark.slow


def sign_in(page, username):
    page.goto("/portal/login")
    page.fill("#username", username)
    page.fill("#password", FINAL_PASSWORD)
    page.click("#sign-in")


def sign_out(page):
    page.click("#user-menu")
    page.click("#logout")
    page.wait_for_url(re.compile(r"/portal/login"))


def test_an_admin_enrols_and_signs_in_with_a_code_and_with_a_recovery_code(page, portal_as, base_url, screenshots):
    username = portal_as("admin").username
    sign_in(page, username)
    page.wait_for_url(re.compile(r"/portal/$"))

    page.goto("/portal/two-factor")
    page.click("#begin-two-factor")
    secret = page.input_value("#totp-secret")
    assert f"secret={secret}" in page.input_value("#totp-uri")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("#confirm-two-factor")
    codes = page.inner_text("#recovery-codes").split()
    assert len(codes) == 10
    page.screenshot(path=str(screenshots / "two-factor-recovery-codes.png"), full_page=True)
    page.goto("/portal/two-factor")
    assert secret not in page.content() and not set(codes) & set(page.content().split())

    sign_out(page)
    sign_in(page, username)
    page.wait_for_url(re.compile(r"/portal/login/second-factor"))
    page.fill("#code", "000000")
    page.click("#verify-code")
    assert "Wrong or already used code." in page.inner_text("form")
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("#verify-code")
    page.wait_for_url(re.compile(r"/portal/$"))

    for attempt in range(2):  # a recovery code signs in once
        sign_out(page)
        sign_in(page, username)
        page.wait_for_url(re.compile(r"/portal/login/second-factor"))
        page.fill("#code", codes[0])
        page.click("#verify-code")
        if attempt == 0:
            page.wait_for_url(re.compile(r"/portal/$"))
            assert "recovery code" in page.inner_text("main")
        else:
            assert "Wrong or already used code." in page.inner_text("form")
