"""Portal fixtures: users of each role, signed-in HTTP sessions, and a shared Chromium."""

import os
import re
import shutil
from pathlib import Path

import pytest
import requests

from tests.factories import unique_name

FINAL_PASSWORD = "portal-final-password-1"
CHROMIUM = os.environ.get("MOSPAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
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


@pytest.fixture(scope="session")
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


def chromium_or_skip():
    """The system Chromium's path; outside CI a missing browser skips, in CI it fails."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs the Debian package chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped outside CI")


_SHARED = {"users": 0}  # one Playwright and one Chromium per test process, however many conftests use them


def _start_browser(executable):
    if _SHARED["users"] == 0:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            if os.environ.get("CI"):
                raise
            pytest.skip("the playwright package is not installed (pip install -r requirements-dev.txt)")
        manager = sync_playwright()
        playwright = manager.start()
        _SHARED.update(manager=manager, browser=playwright.chromium.launch(executable_path=executable,
                                                                            args=CHROMIUM_ARGS))
    _SHARED["users"] += 1
    return _SHARED["browser"]


def _stop_browser():
    _SHARED["users"] -= 1
    if _SHARED["users"] == 0:
        _SHARED.pop("browser").close()
        _SHARED.pop("manager").__exit__(None, None, None)


@pytest.fixture(scope="session")
def browser():
    """The system Chromium driven by Playwright (no browser download), shared by the whole run."""
    browser = _start_browser(chromium_or_skip())
    yield browser
    _stop_browser()


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
