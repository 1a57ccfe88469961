"""The settlement report in the portal: on screen and as CSV."""

from gateway.portal.views import traffic
from tests.admin.test_settlement_report import paid  # noqa: F401 - the fixture


def test_the_portal_page_and_its_csv(portal_as, paid):  # noqa: F811 - the imported fixture
    viewer = portal_as("viewer")
    page = viewer.get("/portal/reports/settlement")
    assert page.status_code == 200 and paid.client["app_id"] in page.text and 'id="settlement-totals"' in page.text
    exported = viewer.get("/portal/reports/settlement.csv")
    assert exported.status_code == 200 and paid.client["app_id"] in exported.text


def test_a_long_report_shows_its_first_rows_and_says_the_csv_has_them_all(portal_as, paid, monkeypatch):  # noqa: F811
    monkeypatch.setattr(traffic, "SETTLEMENT_ROWS", 1)  # today has at least two rows: RWF and USD
    page = portal_as("viewer").get("/portal/reports/settlement").text
    assert 'id="settlement-more"' in page and "The first 1 of" in page
    assert page.count("<tr><td class=\"text-nowrap\">") == 1
