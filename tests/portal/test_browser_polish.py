"""Layout and behaviour that only a browser shows: confirmations, widths, wrapping, a new client's page."""

import pytest

from tests.factories import unique_name

pytestmark = pytest.mark.slow


@pytest.fixture
def admin_page(browser, base_url, portal_as):
    """A browser page signed in as a fresh admin, collecting script errors."""
    session = portal_as("admin")
    context = browser.new_context(base_url=base_url, viewport={"width": 1366, "height": 900})
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
    page = context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    yield page
    context.close()


def test_rotating_credentials_asks_in_the_browser_first(admin_page, integrator):
    app_id = integrator.client["app_id"]
    admin_page.goto(f"/portal/clients/{app_id}")
    questions = []

    admin_page.once("dialog", lambda dialog: (questions.append(dialog.message), dialog.dismiss()))
    admin_page.click("#rotate")
    admin_page.wait_for_timeout(300)
    assert questions and questions[0].startswith(f"Rotate the credentials of {app_id}?")
    assert admin_page.url.endswith(f"/portal/clients/{app_id}") and integrator.pay().status_code == 200

    admin_page.once("dialog", lambda dialog: dialog.accept())
    admin_page.click("#rotate")
    admin_page.wait_for_selector("#cred-password")
    assert integrator.pay().status_code == 401
    assert admin_page.problems == []


def test_a_new_client_lands_on_its_page_ready_to_assign(admin_page, admin, downstream):
    service = admin.create_service(downstream.url)
    app_id = unique_name("land")
    admin_page.goto("/portal/clients/new")
    admin_page.fill("#name", f"Landing Shop {app_id}")
    admin_page.fill("#app_id", app_id)
    admin_page.click("#create-client")

    admin_page.wait_for_selector("#cred-password")
    # portal.js replaces the address once the page has loaded: wait for it rather than race it.
    admin_page.wait_for_url(f"**/portal/clients/{app_id}", timeout=5000)
    admin_page.select_option("#service", f"{service['microservice']}/collection/payment")
    admin_page.reload()
    assert admin_page.locator("#cred-password").count() == 0 and admin_page.locator("#assign-form").is_visible()
    assert admin_page.problems == []


def test_selects_are_wide_enough_to_read(admin_page, portal_as):
    portal_as("dba")  # someone else on the users page, with role and state selects
    for width in (1024, 1366):
        admin_page.set_viewport_size({"width": width, "height": 900})
        admin_page.goto("/portal/users")
        clipped = admin_page.eval_on_selector_all("#users-table select", """selects => selects.filter(select => {
            const probe = document.createElement("span");  // the longest option's text, as the select draws it
            probe.style.cssText = getComputedStyle(select).font ? "font:" + getComputedStyle(select).font : "";
            probe.textContent = Array.from(select.options).map(o => o.text).sort((a, b) => b.length - a.length)[0];
            document.body.appendChild(probe);
            const needed = probe.offsetWidth + 40;  // the text, the padding and the arrow
            probe.remove();
            return select.offsetWidth < needed;
        }).map(select => select.getAttribute("aria-label") + ": " + select.offsetWidth + "px")""")
        assert clipped == [], (width, clipped)

    admin_page.set_viewport_size({"width": 1366, "height": 900})
    admin_page.goto("/portal/services/new")
    assert admin_page.input_value("#template") == "generic_json"
    for selector in ("#template", "#method", "#fields-0-type"):
        clipped = admin_page.eval_on_selector(selector, "e => e.scrollWidth > e.clientWidth || e.offsetWidth < 100")
        assert not clipped, selector


# Every line break inside a cell, as the two characters around it ("s/" is fine, "pa|yment" is not).
LINE_BREAKS = """cells => cells.flatMap(cell => {
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT), breaks = [];
    let top = null, previous = null;
    while (walker.nextNode()) {
        const node = walker.currentNode;
        for (let i = 0; i < node.length; i++) {
            const range = document.createRange();
            range.setStart(node, i);
            range.setEnd(node, i + 1);
            const rect = range.getClientRects()[0];
            if (!rect || !node.data[i].trim()) { continue; }
            if (top !== null && rect.top > top + 2) { breaks.push(previous + node.data[i]); }
            top = rect.top;
            previous = node.data[i];
        }
    }
    return breaks;
})"""


@pytest.mark.parametrize("width", [1280, 1440])
def test_api_paths_wrap_only_after_a_slash(admin_page, integrator, width):
    for _ in range(3):
        integrator.pay()
    admin_page.set_viewport_size({"width": width, "height": 900})
    admin_page.goto("/portal/")
    breaks = admin_page.eval_on_selector_all("#recent-api-calls td:nth-child(2)", LINE_BREAKS)
    assert all(pair[0] in "/T" for pair in breaks), breaks  # after a slash, or between POST and the path
    assert "/api/v1/payment/process" in admin_page.inner_text("#recent-api-calls")


def test_the_favicon_loads_with_no_error(admin_page):
    admin_page.goto("/portal/")
    status = admin_page.evaluate("fetch(document.querySelector('link[rel=icon]').href).then(r => r.status)")
    assert status == 200 and admin_page.problems == []
