"""Portal polish over HTTP: the icon, the docs link, a new client's page, roles and dates from one place."""

import datetime as dt
import re

import pytest

from gateway.admin.roles import ROLES
from gateway.portal.filters import when
from tests.factories import unique_name


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


def test_the_favicon_is_served_and_linked(admin_portal, base_url):
    icon = admin_portal.get(base_url + "/favicon.ico")
    assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/vnd.microsoft.icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for path in ("/portal/", "/portal/login"):
        assert '<link rel="icon" href="/favicon.ico"' in admin_portal.get(path).text


def test_the_navigation_links_to_the_api_docs(admin_portal):
    nav = admin_portal.get("/portal/").text.split('id="sidebar"')[1].split("</nav>")[0]
    assert 'href="/docs"' in nav


def test_a_new_client_lands_on_its_own_page_with_the_secrets_shown_once(admin_portal, admin, downstream):
    admin.create_service(downstream.url)  # something to assign
    app_id = unique_name("fresh")

    created = admin_portal.submit("/portal/clients/new", {"name": "Fresh Shop", "app_id": app_id},
                                  form_page="/portal/clients/new")

    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    page = created.text
    assert f'data-replace-url="/portal/clients/{app_id}"' in page and 'id="assign-form"' in page
    password = re.search(r'value="([^"]+)" readonly id="cred-password"', page).group(1)
    assert 'id="cred-callback-secret"' in page
    again = admin_portal.get(f"/portal/clients/{app_id}").text
    assert 'id="cred-password"' not in again and password not in again and 'id="assign-form"' in again


def test_every_role_is_offered_from_the_one_declaration(admin_portal, portal_as):
    dba = portal_as("dba")
    users_page = admin_portal.get("/portal/users").text
    row_select = users_page.split(f'aria-label="Role of {dba.username}"')[1].split("</select>")[0]
    assert re.findall(r'<option value="(\w+)"', row_select) == list(ROLES)
    new_user = users_page.split('id="role"')[1].split("</select>")[0]
    assert re.findall(r'value="(\w+)"', new_user) == list(ROLES)


def test_dates_show_one_way_whatever_the_service_layer_passed():
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, 891, tzinfo=dt.UTC)
    shown = '<time datetime="2026-03-04T05:06:07.000891+00:00">2026-03-04 05:06:07</time>'
    assert str(when(moment)) == shown and str(when(moment.isoformat())) == shown
    assert when(None) == "" and when("") == ""


def test_versions_and_users_show_their_dates_through_the_filter(admin_portal, integrator):
    fn = f"{integrator.client['app_id']}_{integrator.service['microservice']}_payment"
    for path in (f"/portal/functions/{fn}", f"/portal/functions/{fn}/versions/1", "/portal/users",
                 "/portal/clients", "/portal/functions"):
        assert re.search(r'<time datetime="[0-9T:.+-]+">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d</time>',
                         admin_portal.get(path).text), path
