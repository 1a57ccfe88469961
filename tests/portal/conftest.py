"""Portal fixtures: users of each role, signed-in HTTP sessions, browser pages (Chromium: tests/conftest.py)."""

import re
from pathlib import Path

import pytest
import requests

from tests.factories import unique_name

FINAL_PASSWORD = "portal-final-password-1"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token(html):
    """The first CSRF token in a page."""
    match = _CSRF.search(html)
    assert match, "no csrf_token in the page"
    return match.group(1) or match.group(2)


class PortalSession(requests.Session):
    """A browser-like session of the portal: ``get``/``post`` take paths; ``submit`` adds the CSRF token."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return super().request(method, url if url.startswith("http") else self.base_url + url, *args, **kwargs)

    def get(self, url, **kwargs):
        kwargs.setdefault("allow_redirects", False)
        return self.request("GET", url, **kwargs)

    def token(self, path="/portal/"):
        return csrf_token(self.get(path).text)

    def submit(self, path, data=None, form_page=None):
        """POST ``data`` with a valid CSRF token taken from ``form_page`` (or the dashboard)."""
        return self.post(path, data={**(data or {}), "csrf_token": self.token(form_page or "/portal/")})

    def sign_in(self, username, password):
        response = self.post("/portal/login", data={"username": username, "password": password,
                                                    "csrf_token": self.token("/portal/login")})
        assert response.status_code == 302, response.text
        return response


def create_user(admin, role, password="first-password-1"):
    """A fresh user (who must change the password) through the admin API; returns its name."""
    username = unique_name(role)
    response = admin.post("/users", {"username": username, "role": role, "password": password})
    assert response.status_code == 201, response.text
    return username


@pytest.fixture(scope="module")
def portal_as(base_url, admin):
    """``portal_as("viewer")``: a signed-in session of a fresh user of that role (password already changed)."""

    def sign_in(role):
        username = create_user(admin, role)
        session = PortalSession(base_url)
        session.sign_in(username, "first-password-1")
        changed = session.post("/portal/password", data={
            "current_password": "first-password-1", "new_password": FINAL_PASSWORD, "confirm": FINAL_PASSWORD,
            "csrf_token": session.token("/portal/password")})
        assert changed.status_code == 302, changed.text
        session.username = username
        return session
    return sign_in


@pytest.fixture
def page(browser, base_url):
    """A fresh browser context (own cookies) and page."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def screenshots():
    """Where the browser tests save their screenshots (git-ignored)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
