"""The settlement report in the portal: on screen and as CSV."""

from tests.admin.test_settlement_report import paid  # noqa: F401 - the fixture


def test_the_portal_page_and_its_csv(portal_as, paid):  # noqa: F811 - the imported fixture
    viewer = portal_as("viewer")
    page = viewer.get("/portal/reports/settlement")
    assert page.status_code == 200 and paid.client["app_id"] in page.text and 'id="settlement-totals"' in page.text
    exported = viewer.get("/portal/reports/settlement.csv")
    assert exported.status_code == 200 and paid.client["app_id"] in exported.text
