"""The portal in a real browser (the system's Chromium through Playwright), end to end.

An admin who has never seen the product signs in, changes the first password,
onboards a client and a service, assigns it, customises the generated function
(one broken edit refused, one good edit applied), test-runs it, and finds the
first payment on the transactions page and the dashboard. Screenshots of the
main pages go to test-artifacts/screenshots/.
"""

import re

import pytest
import requests

from tests.factories import unique_name
from tests.portal.conftest import create_user

pytestmark = pytest.mark.slow

BROKEN_SOURCE = """CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb, context jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $function$
BEGIN
    RETURN jsonb_build_object('url', context #>> '{{service,url}}');
    ELSE;
END
$function$"""
GOOD_SOURCE = """CREATE OR REPLACE FUNCTION mospay_fn."{name}"(request jsonb, context jsonb)
RETURNS jsonb LANGUAGE plpgsql AS $function$
BEGIN
    -- customised in the portal: a risk limit, then a smaller body
    IF (request ->> 'f004')::numeric > 100000 THEN
        RETURN jsonb_build_object('reject', jsonb_build_object('code', 'LIMIT', 'message', 'Over the limit'));
    END IF;
    RETURN jsonb_build_object('url', context #>> '{{service,url}}', 'method', 'POST',
                              'body', jsonb_build_object('customised', true, 'amount', request ->> 'f004',
                                                         'payer', request ->> 'f006'));
END
$function$"""


def shot(page, screenshots, name, full_page=True):
    """Save a screenshot of the page as it is now."""
    page.screenshot(path=str(screenshots / f"{name}.png"), full_page=full_page)


def sign_in_and_change_password(page, screenshots, username):
    page.goto("/portal/")
    page.wait_for_url(re.compile(r"/portal/login"))
    shot(page, screenshots, "01-login")
    page.fill("#username", username)
    page.fill("#password", "first-password-1")
    page.click("#sign-in")
    page.wait_for_url(re.compile(r"/portal/password$"))
    assert page.locator("#must-change").is_visible()
    shot(page, screenshots, "02-forced-password-change")
    page.fill("#current_password", "first-password-1")
    page.fill("#new_password", "a-much-better-password")
    page.fill("#confirm", "a-much-better-password")
    page.click("#change-password")
    page.wait_for_url(re.compile(r"/portal/$"))
    assert "Your password was changed." in page.inner_text("main")


def create_client(page, screenshots, app_id):
    page.click("text=Clients")
    page.click("#new-client")
    page.fill("#name", "Kigali Shop <script>alert(1)</script>")
    page.fill("#app_id", app_id)
    page.click("#create-client")
    page.wait_for_selector("#credentials")
    shot(page, screenshots, "04-client-credentials-shown-once")
    return page.input_value("#cred-username"), page.input_value("#cred-password")


def create_service(page, screenshots, microservice, url):
    page.click("nav >> text=Services")
    page.click("#new-service")
    page.fill("#microservice", microservice)
    page.fill("#service", "collection")
    page.fill("#route", "payment")
    page.fill("#url", url)
    page.fill("#timeout_ms", "3000")
    page.select_option("#template", "generic_json")
    rows = [("amount", "amount", True, "1", "1000000"), ("currency", "currency", False, "", ""),
            ("msisdn", "msisdn", True, "", "")]
    for index, (name, kind, required, low, high) in enumerate(rows):
        page.check(f"#fields-{index}-use")
        page.fill(f"#fields-{index}-name", name)
        page.select_option(f"#fields-{index}-type", kind)
        if required:
            page.check(f"#fields-{index}-required")
        page.fill(f"#fields-{index}-min", low)
        page.fill(f"#fields-{index}-max", high)
    shot(page, screenshots, "05-service-form")
    page.click("#save-service")
    page.wait_for_url(re.compile(r"/portal/services$"))
    assert microservice in page.inner_text("#services-table")


def assign(page, app_id, microservice):
    page.goto(f"/portal/clients/{app_id}")
    page.select_option("#service", f"{microservice}/collection/payment")
    page.click("#assign")
    page.wait_for_selector("text=its functions were generated")
    assert page.locator("#client-name").inner_text() == "Kigali Shop <script>alert(1)</script>"


def edit_function(page, screenshots, fn):
    page.click(f"#client-services >> text={fn}")
    page.wait_for_selector("#function-source .highlight")
    shot(page, screenshots, "06-function-source")
    page.click("#edit-function")
    page.fill("#source", BROKEN_SOURCE.format(name=fn))
    page.click("#save-function")
    page.wait_for_selector("#edit-refused")
    assert "syntax error" in page.inner_text("#refused-message")
    assert "Line 5" in page.inner_text("#refused-line")
    shot(page, screenshots, "07-broken-edit-refused")
    page.fill("#source", GOOD_SOURCE.format(name=fn))
    page.fill("#note", "risk limit and a smaller body")
    page.click("#save-function")
    page.wait_for_selector("text=Saved and applied as version 2")
    assert "customised" in page.inner_text("#function-source")


def run_a_test(page, screenshots):
    page.click("#test-function")
    request_json = page.input_value("#request_json")
    assert '"f004": "1500"' in request_json and '"f006": "250788123456"' in request_json
    page.click("#run-test")
    page.wait_for_selector("#test-result")
    assert '"customised": true' in page.inner_text("#test-output")
    shot(page, screenshots, "08-test-run")


def test_an_admin_onboards_a_client_and_sees_its_first_payment(page, base_url, admin, downstream, screenshots):
    username = create_user(admin, "admin")
    app_id, microservice = unique_name("shop"), unique_name("ms")
    fn = f"{app_id}_{microservice}_payment"

    sign_in_and_change_password(page, screenshots, username)
    shot(page, screenshots, "03-dashboard-empty-day" if "No transactions today" in page.content() else "03-dashboard")
    client_username, client_password = create_client(page, screenshots, app_id)
    create_service(page, screenshots, microservice, downstream.url + "/pay")
    assign(page, app_id, microservice)
    edit_function(page, screenshots, fn)
    run_a_test(page, screenshots)
    assert not downstream.received  # a test run forwards nothing

    unique_id = unique_name("first")
    paid = requests.post(f"{base_url}/api/v1/payment/process", auth=(client_username, client_password),
                         headers={"App-ID": app_id},
                         json={"f000": microservice, "f001": "collection", "f002": "payment", "f003": app_id,
                               "f004": "2500", "f005": "RWF", "f006": "250788123456", "f010": unique_id})
    assert paid.status_code == 200, paid.text
    assert downstream.received[-1]["body"] == {"customised": True, "amount": "2500", "payer": "250788123456"}

    page.click("nav >> text=Transactions")
    page.fill("#filter-f010", unique_id)
    page.click("#apply-filters")
    page.wait_for_selector(f"#transactions-table >> text={unique_id}")
    shot(page, screenshots, "09-transactions")
    page.click(f"#transactions-table >> text={unique_id}")
    page.wait_for_selector("#timeline")
    assert "SUCCESS" in page.inner_text("#tx-status")
    assert '"f004": "2500"' in page.inner_text("#tx-request")
    shot(page, screenshots, "10-transaction-detail")

    page.click("nav >> text=Dashboard")
    assert unique_id in page.inner_text("#recent-transactions")
    assert int(page.inner_text("#kpi-count").replace(",", "")) >= 1
    shot(page, screenshots, "11-dashboard")

    for name, path in (("12-functions", "/portal/functions"), ("13-diff", f"/portal/functions/{fn}/diff"),
                       ("14-routes", f"/portal/routes?client={app_id}"), ("15-api-logs", "/portal/api-logs"),
                       ("16-audit-log", "/portal/audit"), ("17-clients", "/portal/clients"),
                       ("18-services", "/portal/services"), ("19-users", "/portal/users")):
        page.goto(path)
        assert page.locator("main").is_visible()
        shot(page, screenshots, name)


def test_the_layout_works_at_phone_width(browser, base_url, admin, screenshots):
    username = create_user(admin, "viewer")
    context = browser.new_context(base_url=base_url, viewport={"width": 390, "height": 844}, is_mobile=True)
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        page.goto("/portal/login")
        page.fill("#username", username)
        page.fill("#password", "first-password-1")
        page.click("#sign-in")
        page.fill("#current_password", "first-password-1")
        page.fill("#new_password", "a-much-better-password")
        page.fill("#confirm", "a-much-better-password")
        page.click("#change-password")
        page.wait_for_url(re.compile(r"/portal/$"))
        assert not page.locator("#sidebar").is_visible()  # the sidebar folds away…
        page.click("[aria-controls=sidebar]")
        page.wait_for_selector("#sidebar.show")  # …and opens from the menu button
        shot(page, screenshots, "20-phone-menu", full_page=False)
        page.click("#sidebar >> text=Transactions")
        page.wait_for_url(re.compile(r"/portal/transactions"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390 + 1, f"the page scrolls sideways ({width}px)"
        shot(page, screenshots, "21-phone-transactions")
    finally:
        context.close()


def test_no_script_error_and_no_csp_violation_on_the_main_pages(browser, base_url, portal_as):
    session = portal_as("admin")
    context = browser.new_context(base_url=base_url)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        for path in ("/portal/", "/portal/clients", "/portal/transactions", "/portal/functions", "/portal/audit"):
            page.goto(path)
            assert page.evaluate("typeof bootstrap") == "object"  # Bootstrap's JS loaded under the CSP
        assert problems == []
    finally:
        context.close()
