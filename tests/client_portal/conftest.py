"""Client portal fixtures: an integrator with a route, and its people signed in at /client/ over real HTTP."""

import pytest

from tests.factories import Integrator, unique_name
from tests.portal.conftest import PortalSession, csrf_token, page, portal_as, screenshots  # noqa: F401  (fixtures)
from tests.test_cli import cli_env, flask_cli  # noqa: F401  (fixtures: the real `flask` executable)

CLIENT_PASSWORD = "client-portal-pass-1"


class ClientSession(PortalSession):
    """A browser-like session of the client portal (its own cookie)."""

    def token(self, path="/client/"):
        return csrf_token(self.get(path).text)

    def submit(self, path, data=None, form_page=None):
        return self.post(path, data={**(data or {}), "csrf_token": self.token(form_page or "/client/")})

    def accept(self, invitation_path, password=CLIENT_PASSWORD):
        response = self.post(invitation_path, data={"password": password, "confirm": password,
                                                    "csrf_token": self.token(invitation_path)})
        assert response.status_code == 302, response.text
        return response

    def sign_in(self, email, password=CLIENT_PASSWORD):
        response = self.post("/client/login", data={"email": email, "password": password,
                                                    "csrf_token": self.token("/client/login")})
        assert response.status_code == 302, response.text
        return response


def invite(admin, app_id, email=None):
    """An invitation through the admin API: ``(email, invitation path)``."""
    email = email or f"{unique_name('dev')}@example.com"
    response = admin.post(f"/clients/{app_id}/users", {"email": email})
    assert response.status_code == 201, response.text
    return email, response.json()["invitation_path"]


@pytest.fixture
def shop(base_url, admin, downstream):
    """A client app with one route on the loopback provider, and a signed-in portal user of it."""
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    email, path = invite(admin, client["app_id"])
    session = ClientSession(base_url)
    session.accept(path)
    return Integrator(base_url, client, service), session, email
