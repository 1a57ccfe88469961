"""The "Needs attention" queue: operators see what waits for them and settle it with four eyes."""

import pytest

from gateway.hot_path.forwarder import upstream_key
from gateway.portal.views import attention


@pytest.fixture(autouse=True)
def fresh_badge(monkeypatch):
    """The sidebar count is cached a few seconds per process; these stories read it at once."""
    monkeypatch.setattr(attention, "COUNTS_SECONDS", 0)


def unknown_payment(integrator, downstream, rt):
    downstream.behaviour = lambda path, headers, body: (500, {"oops": True}, 0)
    body = integrator.pay().json()
    rt.forwarder.circuits.breaker(upstream_key(downstream.url)).record(True)  # the next story's provider is well
    assert body["status"] == "UNKNOWN"
    return body["transaction_ref"]


def test_an_unknown_payment_is_listed_proposed_and_approved_by_a_second_admin(portal_as, integrator, downstream,
                                                                              rt, db):
    ref = unknown_payment(integrator, downstream, rt)
    maker, checker = portal_as("admin"), portal_as("admin")

    page = maker.get("/portal/attention")
    assert page.status_code == 200 and f'id="attention-{ref}"' in page.text
    assert 'id="attention-badge"' in page.text  # the sidebar says something waits

    proposed = maker.submit(f"/portal/attention/{ref}/propose", {"status": "SUCCESS", "reason": "Paid per statement",
                                                                "provider_ref": "MTN-1"}, "/portal/attention")
    assert proposed.status_code == 302
    proposal = db("SELECT r.id FROM mospay.resolutions r JOIN mospay.transactions t ON t.id = r.transaction_id "
                  "WHERE t.ref = %s::uuid", (ref,))[0]["id"]
    assert "yours: another admin approves" in maker.get("/portal/attention").text
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]["status"] == "UNKNOWN"

    asked = checker.submit(f"/portal/resolutions/{proposal}/approve", form_page="/portal/attention")
    assert asked.status_code == 200 and 'id="confirm"' in asked.text  # nothing settles without the confirmation
    approved = checker.post(f"/portal/resolutions/{proposal}/approve",
                            data={"confirmed": "yes", "csrf_token": checker.token("/portal/attention")})

    assert approved.status_code == 302
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]["status"] == "SUCCESS"
    assert f'id="attention-{ref}"' not in checker.get("/portal/attention").text


def test_the_proposer_cannot_approve_their_own(portal_as, integrator, downstream, rt, db):
    ref = unknown_payment(integrator, downstream, rt)
    maker = portal_as("admin")
    maker.submit(f"/portal/attention/{ref}/propose", {"status": "FAILED", "reason": "Not at the provider"},
                 "/portal/attention")
    proposal = db("SELECT r.id FROM mospay.resolutions r JOIN mospay.transactions t ON t.id = r.transaction_id "
                  "WHERE t.ref = %s::uuid", (ref,))[0]["id"]

    own = maker.post(f"/portal/resolutions/{proposal}/approve",
                     data={"confirmed": "yes", "csrf_token": maker.token("/portal/attention")}, allow_redirects=True)

    assert "Four eyes" in own.text
    assert db("SELECT status FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]["status"] == "UNKNOWN"


def test_a_viewer_sees_the_queue_but_cannot_act(portal_as, integrator, downstream, rt):
    ref = unknown_payment(integrator, downstream, rt)
    viewer = portal_as("viewer")

    page = viewer.get("/portal/attention")

    assert page.status_code == 200 and f'id="attention-{ref}"' in page.text and f'id="propose-{ref}"' not in page.text
    assert viewer.submit(f"/portal/attention/{ref}/propose", {"status": "SUCCESS", "reason": "nope"},
                         "/portal/attention").status_code == 403
