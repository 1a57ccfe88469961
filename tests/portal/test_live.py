"""The transactions page stays live: server-sent events of new transactions and state changes."""

import json
import threading
import time

import pytest

from gateway.admin import live
from tests.follow_up.test_provider_callbacks import notify, pending


@pytest.fixture
def short_streams(monkeypatch):
    monkeypatch.setattr(live, "STREAM_SECONDS", 3)
    monkeypatch.setattr(live, "POLL_SECONDS", 0.2)


def events(session, refs=(), last_event_id=None):
    """Every event of one (short) stream."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    response = session.get(f"/portal/live/transactions?refs={','.join(refs)}", stream=True, headers=headers,
                           timeout=10)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    found, current = [], {}
    for line in response.iter_lines(decode_unicode=True):
        if line.startswith("id: "):
            current["id"] = line[4:]
        elif line.startswith("data: "):
            found.append({**json.loads(line[6:]), "id": current.get("id")})
    return found


def test_a_state_change_and_a_new_payment_are_streamed(portal_as, integrator, downstream, base_url, short_streams):
    viewer = portal_as("viewer")
    downstream.behaviour = pending
    shown = integrator.pay().json()

    def meanwhile():
        time.sleep(0.8)
        notify(base_url, integrator, {"transaction_ref": shown["transaction_ref"], "status": "SUCCESS"})
        integrator.pay()

    thread = threading.Thread(target=meanwhile)
    thread.start()
    streamed = events(viewer, [shown["transaction_ref"], "not-a-uuid"])
    thread.join()

    mine = [e for e in streamed if e["ref"] == shown["transaction_ref"]]
    assert [e["status"] for e in mine] == ["PENDING", "SUCCESS"] and not any(e["new"] for e in mine)
    new = [e for e in streamed if e["new"] and e["app_id"] == integrator.client["app_id"]]
    assert len(new) == 1 and new[0]["service"].endswith("/collection/payment")


def test_a_reconnection_resumes_after_the_last_event(portal_as, integrator, short_streams):
    viewer = portal_as("viewer")
    first = events(viewer)
    cursor = first[-1]["id"] if first else None
    response = viewer.get("/portal/live/transactions", stream=True, timeout=10)
    cursor = cursor or next(line[4:] for line in response.iter_lines(decode_unicode=True) if line.startswith("id: "))
    response.close()
    paid = integrator.pay().json()

    resumed = events(viewer, last_event_id=cursor)

    assert any(e["ref"] == paid["transaction_ref"] and e["new"] for e in resumed)


def test_the_page_wires_its_rows_to_the_stream(portal_as, integrator):
    ref = integrator.pay().json()["transaction_ref"]
    page = portal_as("viewer").get(f"/portal/transactions?client={integrator.client['app_id']}").text
    assert 'data-stream="/portal/live/transactions"' in page and f'data-ref="{ref}"' in page
    assert 'id="live-banner"' in page


def test_watched_refs_keep_only_uuids():
    ref = "5f0c2a9e-8d1b-4c7e-9a43-2b6f1d0e7c55"
    assert live.watched_refs(f"{ref},x,,'; DROP TABLE x") == [ref]
    assert live.watched_refs(None) == []


def test_the_stream_needs_a_signed_in_user(base_url):
    import requests
    response = requests.get(f"{base_url}/portal/live/transactions", allow_redirects=False, timeout=5)
    assert response.status_code == 302 and "/portal/login" in response.headers["Location"]


def test_the_browser_shows_states_and_new_payments_live(browser, base_url, portal_as, integrator, downstream):
    session = portal_as("admin")
    downstream.behaviour = pending
    shown = integrator.pay().json()
    context = browser.new_context(base_url=base_url)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base_url} for c in session.cookies])
    page = context.new_page()
    problems = []
    page.on("console", lambda message: message.type == "error" and "Failed to load resource" not in message.text
            and problems.append(message.text))  # (the browser's own /favicon.ico request is a 404)
    page.on("pageerror", lambda error: problems.append(str(error)))
    try:
        page.goto(f"/portal/transactions?client={integrator.client['app_id']}")
        page.wait_for_selector("#live-indicator.text-bg-success", timeout=10_000)

        notify(base_url, integrator, {"transaction_ref": shown["transaction_ref"], "status": "FAILED"})
        integrator.pay()

        row = f'tr[data-ref="{shown["transaction_ref"]}"] [data-live="status"]'
        deadline = time.monotonic() + 10  # (wait_for_function evaluates a string: the CSP forbids it)
        while page.inner_text(row).strip() != "FAILED" and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert page.inner_text(row).strip() == "FAILED"
        page.wait_for_selector("#live-banner:not(.d-none)", timeout=10_000)
        assert page.inner_text("#live-count") == "1"
        assert problems == []
    finally:
        context.close()


def test_a_failed_answers_code_is_streamed_as_the_error_column_shows_it(portal_as, integrator, downstream,
                                                                        short_streams):
    """The live row shows what the page would: the answer's code of a FAILED payment, not a blank."""
    viewer = portal_as("viewer")
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "PAYER_NOT_FOUND"}, 0)
    failed = integrator.pay().json()

    streamed = events(viewer, [failed["transaction_ref"]])

    mine = [e for e in streamed if e["ref"] == failed["transaction_ref"]]
    assert mine and mine[0]["status"] == "FAILED" and mine[0]["error_code"] == "PAYER_NOT_FOUND"
