"""The portal's lists page by cursor: Next and Previous links; a tampered cursor falls back to the newest page."""

import html
import re

import pytest

from tests.factories import unique_name

_LINK = re.compile(r'href="([^"]+)"[^>]*id="(next-page|prev-page)"')


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


def _links(page):
    return {name: html.unescape(href) for href, name in _LINK.findall(page)}


def test_a_reader_pages_a_clients_transactions_forward_and_back(admin_portal, integrator, db):
    ids = [unique_name("pg") for _ in range(27)]
    for unique_id in ids:
        assert integrator.pay(integrator.message(f010=unique_id)).status_code == 200
    first = admin_portal.get(f"/portal/transactions?client={integrator.client['app_id']}").text
    assert "27 in all" in first and ids[-1] in first and ids[1] not in first  # newest 25
    links = _links(first)
    assert links["prev-page"] == "#" and "after=" in links["next-page"] and "client=" in links["next-page"]

    second = admin_portal.get(links["next-page"]).text
    assert ids[0] in second and ids[1] in second and ids[2] not in second
    assert _links(second)["next-page"] == "#"
    back = admin_portal.get(_links(second)["prev-page"]).text
    assert ids[-1] in back and ids[2] in back and ids[1] not in back


def test_a_tampered_cursor_shows_the_newest_page_as_other_malformed_filters_are_dropped(admin_portal):
    for path in ("/portal/transactions?after=not-a-cursor", "/portal/api-logs?before=%25%25",
                 "/portal/audit?after=azF8bm90LWEtdGltZXw0Mg", "/portal/deliveries?after=x"):
        response = admin_portal.get(path)
        assert response.status_code == 200 and 'id="list-total"' in response.text
