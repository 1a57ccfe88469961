"""The dashboard's figures and the Error columns, over real HTTP, on payments in every state."""

import re

import pytest

from gateway.admin import reports

# The provider's answer per amount (f004): one payment in each state a downstream can cause.
ANSWERS = {
    "1500": (200, {"status": "SUCCESS", "code": "OK"}),
    "2.5": (200, {"status": "SUCCESS", "code": "OK"}),
    "700": (200, {"status": "FAILED", "code": "PAYER_NOT_FOUND", "message": "No such payer."}),
    "900": (500, b"<html>not json</html>"),
    "300": (202, {"status": "PENDING"}),
}


@pytest.fixture(scope="module")
def admin_portal(portal_as):
    return portal_as("admin")


@pytest.fixture
def mixed_day(integrator, downstream):
    """The integrator's payments today: 1500 RWF and 2.50 USD succeed, 700 RWF fails, 900 RWF is unknown,
    300 RWF pending."""
    downstream.behaviour = lambda path, headers, body: (*ANSWERS[body["f004"]], 0)
    for amount, currency in (("1500", "RWF"), ("2.5", "USD"), ("700", "RWF"), ("900", "RWF"), ("300", "RWF")):
        assert integrator.pay(integrator.message(f004=amount, f005=currency)).status_code in (200, 202, 502)
    return integrator


def client_row(html, app_id):
    return html.split(f'data-client="{app_id}"')[1].split("</tr>")[0]


def test_the_dashboard_sums_successful_volume_per_currency_and_completes_final_states_only(admin_portal, rt,
                                                                                          mixed_day):
    app_id = mixed_day.client["app_id"]
    row = client_row(admin_portal.get("/portal/").text, app_id)

    assert "1,500.00 RWF" in row and "2.50 USD" in row  # not 3,402.50: no failed payment, no mixed currencies
    assert "66.7 %" in row  # 2 successful of 3 completed (the pending and the unknown are not completed)
    totals = next(t for t in reports.dashboard(rt).by_client if t.labels["app_id"] == app_id)
    assert (totals.count, totals.success, totals.completed) == (5, 2, 3)


def test_the_chart_draws_each_state_in_its_own_colour(admin_portal, mixed_day):
    chart = admin_portal.get("/portal/").text.split('id="chart-24h"')[1].split("</svg>")[0]

    drawn = set(re.findall(r'class="chart-state chart-(\w+)"', chart))
    assert {"success", "failed", "unknown", "pending"} <= drawn


def test_the_error_columns_show_the_code_of_failed_and_unknown_answers(admin_portal, mixed_day):
    app_id = mixed_day.client["app_id"]

    for page in (f"/portal/transactions?client={app_id}", f"/portal/api-logs?client={app_id}"):
        html = admin_portal.get(page).text
        assert "PAYER_NOT_FOUND" in html and "UNREADABLE_ANSWER" in html, page
    ref = re.search(r'data-ref="([0-9a-f-]{36})"', admin_portal.get(
        f"/portal/transactions?client={app_id}&status=FAILED").text).group(1)
    assert "PAYER_NOT_FOUND" in admin_portal.get(f"/portal/transactions/{ref}").text.split('id="tx-summary"')[1]
