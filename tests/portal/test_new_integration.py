"""New integration (issue 15 §3): from sign-in to a new client's first successful payment in ≤ 10 actions.

Actions are what a person does with the mouse: clicks, submits and picks in a list (typing is
not counted). Each story counts them through ``Actions`` and fails above ten.
"""

import re

import pytest

from gateway.admin import integrations
from gateway.errors import AlreadyExists, ValidationFailed
from tests.factories import unique_name
from tests.portal.conftest import FINAL_PASSWORD, PortalSession, create_user

pytestmark = pytest.mark.slow
MOST_ACTIONS = 10


class Actions:
    """The page, with every click, submit and pick counted."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def click(self, selector):
        self.count += 1
        self.page.click(selector)

    def pick(self, selector, value):
        self.count += 1
        self.page.select_option(selector, value)


@pytest.fixture
def admin_name(admin, base_url):
    """An admin whose first password is already changed: what a team member has on an ordinary day."""
    username = create_user(admin, "admin")
    session = PortalSession(base_url)
    session.sign_in(username, "first-password-1")
    session.post("/portal/password", data={"current_password": "first-password-1", "new_password": FINAL_PASSWORD,
                                           "confirm": FINAL_PASSWORD, "csrf_token": session.token("/portal/password")})
    return username


def sign_in(actions, username):
    actions.page.goto("/portal/login")
    actions.page.fill("#username", username)
    actions.page.fill("#password", FINAL_PASSWORD)
    actions.click("#sign-in")
    actions.page.wait_for_url(re.compile(r"/portal/$"))


def pay_and_see_success(actions):
    actions.click("#send-test-payment")
    actions.page.wait_for_url(re.compile(r"/portal/transactions/"))
    assert "SUCCESS" in actions.page.locator("main, body").first.inner_text()


def test_a_new_client_on_a_new_provider_pays_within_ten_actions(page, admin_name, downstream):
    actions, name = Actions(page), unique_name("Shop ")
    sign_in(actions, admin_name)
    actions.click("#nav-new-integration")
    page.fill("#name", name)
    actions.pick("#provider", "template:generic_json")
    page.fill("#url", downstream.url + "/pay")
    page.fill("#microservice", unique_name("prov"))
    actions.click("#create-integration")

    assert page.locator("#cred-password").input_value()  # shown once, on this page
    assert "/api/v1/payment/process" in page.locator("#integration-curl").inner_text()
    pay_and_see_success(actions)
    assert actions.count <= MOST_ACTIONS, actions.count
    assert [c["path"] for c in downstream.received] == ["/pay"]  # one real call reached the provider


def test_a_new_client_on_an_existing_service_pays_within_ten_actions(page, admin_name, admin, downstream):
    service = admin.create_service(downstream.url + "/pay", fields=[])
    actions = Actions(page)
    sign_in(actions, admin_name)
    actions.click("#nav-new-integration")
    page.fill("#name", unique_name("Shop "))
    actions.pick("#provider", f"service:{service['microservice']}/{service['service']}/{service['route']}")
    actions.click("#create-integration")
    pay_and_see_success(actions)

    assert actions.count <= MOST_ACTIONS, actions.count


def test_a_refused_integration_leaves_nothing_behind(rt, admin, downstream, db):
    taken = admin.create_service(downstream.url + "/pay")
    clients = db("SELECT count(*) AS n FROM mospay.clients")

    with pytest.raises(AlreadyExists):  # the provider name is taken: refused before the client exists
        integrations.create(rt, {"name": unique_name("Shop "), "template": "generic_json",
                                 "url": downstream.url, "microservice": taken["microservice"]}, "test")
    with pytest.raises(ValidationFailed):
        integrations.create(rt, {"name": unique_name("Shop "), "service": "no/such/service"}, "test")
    with pytest.raises(ValidationFailed):
        integrations.create(rt, {"name": unique_name("Shop "), "template": "generic_json", "url": "not a url",
                                 "microservice": unique_name("prov")}, "test")

    assert db("SELECT count(*) AS n FROM mospay.clients") == clients
