"""Reconciliation in the portal: an admin uploads the provider's statement in the browser, reads the run,
follows its proposal into Needs attention, and edits the provider's statement columns."""

import re
import time

import pytest

from tests.admin.test_reconciliation import statement


@pytest.fixture
def browser_as(browser, base_url):
    """``browser_as(session)``: a browser page signed in as the ``portal_as`` session's user."""
    contexts = []

    def open_page(session):
        context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
        context.set_default_timeout(15_000)
        context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
        contexts.append(context)
        return context.new_page()
    yield open_page
    for context in contexts:
        context.close()


@pytest.fixture
def unknown_and_paid(integrator, downstream):
    """One payment the provider answered, one it left UNKNOWN."""
    paid = integrator.pay(integrator.message(f004="1500")).json()
    downstream.behaviour = lambda path, headers, body: (200, {"status": "UNKNOWN", "code": "PROVIDER_TIMEOUT"}, 0)
    unknown = integrator.pay(integrator.message(f004="900")).json()
    return integrator, paid, unknown


def test_an_admin_reconciles_a_statement_in_the_browser_and_finds_the_proposal(portal_as, browser_as,
                                                                               unknown_and_paid, screenshots):
    integrator, paid, unknown = unknown_and_paid
    microservice = integrator.service["microservice"]
    today = time.strftime("%Y-%m-%d")
    data = statement((today, paid["transaction_ref"], "p", "1500", "RWF", "SUCCESS"),
                     (today, unknown["transaction_ref"], "p", "900", "RWF", "SUCCESS"),
                     (today, "not-ours-1", "p", "5", "RWF", "SUCCESS"),
                     header=("time", "reference", "payer", "amount", "currency", "status"))
    page = browser_as(portal_as("admin"))

    page.goto("/portal/reconciliation")
    page.select_option("#microservice", microservice)
    page.set_input_files("#statement", {"name": "statement.csv", "mimeType": "text/csv", "buffer": data})
    page.click("#reconcile")

    page.wait_for_url(re.compile(r"/portal/reconciliation/runs/\d+$"))
    assert "Reconciled 3 lines: 2 discrepancies, 1 proposal(s)" in page.inner_text("main")
    assert page.inner_text("#figure-matched") == "1" and page.inner_text("#figure-missing_at_switch") == "1"
    assert page.inner_text("#figure-state_mismatch") == "1"
    page.screenshot(path=str(screenshots / "40-reconciliation-run.png"), full_page=True)
    page.click("#run-proposals")
    page.wait_for_url(re.compile(r"/portal/attention$"))
    assert "The provider's statement says SUCCESS" in page.inner_text("#proposals-table")

    page.goto("/portal/reconciliation")  # the same file again: its earlier run, nothing new
    page.select_option("#microservice", microservice)
    page.set_input_files("#statement", {"name": "again.csv", "mimeType": "text/csv", "buffer": data})
    page.click("#reconcile")
    page.wait_for_url(re.compile(r"/portal/reconciliation/runs/\d+$"))
    assert "This file was reconciled before" in page.inner_text("main")


def test_an_admin_edits_a_providers_statement_columns(portal_as, browser_as, integrator, admin, db):
    microservice = integrator.service["microservice"]
    page = browser_as(portal_as("admin"))

    page.goto("/portal/reconciliation")
    page.click(f"#mapping-{microservice}")
    page.fill("#reference", "TxnRef")
    page.fill("#amount", "Amt")
    page.select_option("#match_on", "provider_ref")
    page.fill("#statuses", "PAID=SUCCESS\nBOUNCED=FAILED")
    page.click("#save-mapping")

    page.wait_for_url(re.compile(r"/portal/reconciliation$"))
    saved = admin.get(f"/reconciliation/mappings/{microservice}").json()
    assert saved["columns"]["reference"] == "TxnRef" and saved["match_on"] == "provider_ref"
    assert saved["statuses"] == {"PAID": "SUCCESS", "BOUNCED": "FAILED"}
    assert db("SELECT actor FROM mospay.audit_log WHERE action = 'reconciliation.mapping' AND target = %s",
              (microservice,))[0]["actor"].startswith("admin")


def test_a_bad_mapping_is_shown_on_the_form_and_a_viewer_only_reads(portal_as, integrator):
    microservice = integrator.service["microservice"]
    admin = portal_as("admin")
    refused = admin.submit(f"/portal/reconciliation/mappings/{microservice}",
                           {"reference": "r", "amount": "a", "status": "s", "match_on": "ref",
                            "statuses": "PAID=MAYBE"}, form_page=f"/portal/reconciliation/mappings/{microservice}")
    assert refused.status_code == 400 and "statuses" in refused.text

    viewer = portal_as("viewer")
    page = viewer.get("/portal/reconciliation")
    assert page.status_code == 200 and 'id="statement-form"' not in page.text
    assert 'id="save-mapping"' not in viewer.get(f"/portal/reconciliation/mappings/{microservice}").text
