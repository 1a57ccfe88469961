"""The portal's provider credentials: an admin types values into write-only fields; nothing ever shows them again."""

import pytest

from tests.factories import Integrator, unique_name
from tests.providers import MOMO_FIELDS, momo_credentials, momo_message, momo_server
from tests.providers import base_url as url_of


@pytest.fixture(scope="module")
def momo():
    server = momo_server()
    yield server
    server.shutdown()


@pytest.fixture
def admin_page(browser, base_url, portal_as):
    session = portal_as("admin")
    context = browser.new_context(base_url=base_url)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    yield page
    context.close()


def test_an_admin_enters_the_credentials_in_the_browser_assigns_and_pays(admin_page, admin, momo):
    service = admin.create_service(url_of(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    values = momo_credentials(momo)
    path = "/portal/services/{microservice}/{service}/{route}/provider-credentials".format(**service)

    admin_page.goto(path)
    assert "api_user, api_key, subscription_key, target_environment" in admin_page.inner_text("#missing-credentials")
    for name, value in values.items():
        assert admin_page.get_attribute(f"#value_{name}", "type") == "password"
        admin_page.fill(f"#value_{name}", value)
    admin_page.click("#store-credentials")
    admin_page.wait_for_url("**/portal/services")
    admin_page.goto(path)

    page = admin_page.content()
    assert "missing-credentials" not in page and page.count("stored</span>") == 4
    assert not any(value in page for value in (values["api_key"], values["api_user"], values["subscription_key"]))
    client = admin.create_client()
    admin.assign(client, service)
    route = Integrator(admin.base_url, client, service)
    assert route.pay(momo_message(route)).status_code == 202
    assert admin_page.problems == []


def test_a_viewer_cannot_open_the_credentials_page(portal_as, admin, momo):
    service = admin.create_service(url_of(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    viewer = portal_as("viewer")
    page = viewer.get("/portal/services/{microservice}/{service}/{route}/provider-credentials".format(**service))
    assert page.status_code == 403


def test_no_page_or_export_shows_a_credential(portal_as, admin, base_url, momo):
    """Sentinel values: a payment's page, the API logs, the audit log and every CSV export hold none of them."""
    service = admin.create_service(url_of(momo), microservice=unique_name("momo"), template="mtn_momo_collection",
                                   fields=MOMO_FIELDS)
    values = {**momo_credentials(momo), "subscription_key": "SENTINEL-PAGE-SUB-77c1d2e3"}
    momo.simulator.users[values["api_user"]]["api_key"] = values["api_key"] = "SENTINEL-PAGE-KEY-41b9a0f6"
    assert admin.put("/services/{microservice}/{service}/{route}/credentials".format(**service),
                     {"values": values}).status_code == 200
    client = admin.create_client()
    admin.assign(client, service)
    route = Integrator(base_url, client, service)
    paid = route.pay(momo_message(route)).json()
    assert paid["status"] == "PENDING"
    session = portal_as("admin")

    pages = [session.get(path).text for path in (
        f"/portal/transactions/{paid['transaction_ref']}", "/portal/api-logs", "/portal/audit", "/portal/services",
        f"/portal/clients/{client['app_id']}", "/portal/exports/transactions.csv", "/portal/exports/api-logs.csv",
        "/portal/exports/audit.csv", "/portal/routes")]

    assert all(page for page in pages)
    for sentinel in ("SENTINEL-PAGE-SUB-77c1d2e3", "SENTINEL-PAGE-KEY-41b9a0f6"):
        assert not any(sentinel in page for page in pages)
