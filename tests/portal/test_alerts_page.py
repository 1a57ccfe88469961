"""Alerts in the portal: an admin makes a rule in the browser, sees the alert open with a count in the sidebar,
acknowledges it, and finds it in the history once it resolved by itself."""

import re

from gateway.follow_up import alerts
from tests.portal.test_reconciliation_page import browser_as  # noqa: F401  (the signed-in browser fixture)


def test_an_admin_makes_a_rule_sees_the_alert_acknowledges_it_and_it_resolves(
        portal_as, browser_as, integrator, rt, db, screenshots, admin):  # noqa: F811
    stale = integrator.pay().json()["transaction_ref"]
    db("UPDATE mospay.transactions SET status = 'UNKNOWN', updated_at = now() - interval '2 hours' "
       "WHERE ref = %s::uuid RETURNING id", (stale,))
    page = browser_as(portal_as("admin"))

    page.goto("/portal/alerts")
    page.fill("#name", "UNKNOWN for over 30 minutes")
    page.select_option("#kind", "unknown_age")
    page.fill("#params", '{"minutes": 30}')
    page.fill("#webhook_url", "http://127.0.0.1:9/hook")
    page.click("#create-rule")
    assert len(page.inner_text("#webhook-secret")) >= 32  # shown on this page only
    page.click("#to-alerts")

    alerts.evaluate(rt)
    page.goto("/portal/alerts")
    row = page.locator("#open-alerts tbody tr").filter(has_text="UNKNOWN payment(s) older than 30 min")
    assert row.count() == 1
    page.screenshot(path=str(screenshots / "41-alerts.png"), full_page=True)
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/portal/alerts/\d+$"))
    page.click("#acknowledge")
    assert "Acknowledged by" in page.inner_text("#acknowledged")
    assert [c.inner_text() for c in page.locator("#alert-events tbody tr td:nth-child(2)").all()] == [
        "opened", "acknowledged"]

    db("UPDATE mospay.transactions SET status = 'SUCCESS' WHERE ref = %s::uuid RETURNING id", (stale,))
    alerts.evaluate(rt)
    page.reload()
    assert page.inner_text("#alert-state") == "resolved"
    page.goto("/portal/alerts")
    assert "UNKNOWN payment(s) older than 30 min" in page.inner_text("#alert-history")


def test_the_sidebar_counts_open_alerts_nobody_acknowledged(portal_as, integrator, rt, db, app):
    app.extensions.pop("mospay_alerts", None)  # the badge's few-seconds cache
    viewer = portal_as("viewer")
    before = viewer.get("/portal/alerts").text
    assert 'id="rule-form"' not in before and 'id="ack-' not in before
    admin = portal_as("admin")
    created = admin.submit("/portal/alerts/rules", {"name": "dead callbacks", "kind": "dead_callbacks",
                                                    "params": "{}"}, form_page="/portal/alerts")
    assert created.status_code == 302
    paid = integrator.pay().json()
    db("INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload, state) SELECT 'client_callback', id, "
       "client_id, '{}', 'dead' FROM mospay.transactions WHERE ref = %s::uuid RETURNING id",
       (paid["transaction_ref"],))
    alerts.evaluate(rt)
    app.extensions.pop("mospay_alerts", None)

    page = viewer.get("/portal/transactions").text
    assert re.search(r'id="alerts-badge">\d+<', page)
    refused = admin.submit("/portal/alerts/rules", {"name": "bad", "kind": "latency_p99", "params": "[1]"},
                           form_page="/portal/alerts")
    assert refused.status_code == 400 and "params must be a JSON object" in refused.text
