"""Resolving payments by hand, with four eyes: an operator proposes, a second admin approves, the payment settles."""

import pytest

from gateway.hot_path.forwarder import upstream_key
from tests.factories import Admin, user_token


@pytest.fixture
def second_admin(base_url, admin):
    return Admin(base_url, user_token(base_url, admin, "admin"))


@pytest.fixture
def unknown_payment(integrator, downstream, db, rt):
    """An UNKNOWN payment (the provider's answer was unreadable) of a client with a callback URL."""
    db("UPDATE mospay.clients SET callback_url = 'http://127.0.0.1:9/cb' WHERE app_id = %s RETURNING id",
       (integrator.client["app_id"],))
    downstream.behaviour = lambda path, headers, body: (500, {"oops": True}, 0)
    body = integrator.pay().json()
    assert body["status"] == "UNKNOWN"
    # Each story's 500 must not add up to an open circuit for the next one: the provider is "well" again.
    rt.forwarder.circuits.breaker(upstream_key(downstream.url)).record(True)
    return body


def payment(db, ref):
    return db("SELECT id, status, answer FROM mospay.transactions WHERE ref = %s::uuid", (ref,))[0]


def propose(admin, ref, status="SUCCESS", **extra):
    return admin.post(f"/transactions/{ref}/resolutions",
                      {"status": status, "reason": "Paid per the provider's statement",
                       "evidence": {"provider_ref": "MTN-778"}, **extra})


def test_a_proposal_settles_only_when_a_second_admin_approves(admin, second_admin, unknown_payment, db):
    ref = unknown_payment["transaction_ref"]
    proposed = propose(admin, ref)
    assert proposed.status_code == 201, proposed.text
    proposal = proposed.json()["id"]
    assert payment(db, ref)["status"] == "UNKNOWN"  # nothing moves on one person's word

    own = admin.post(f"/resolutions/{proposal}/approve")
    assert own.status_code == 403 and "Four eyes" in own.json()["error"]["message"]

    approved = second_admin.post(f"/resolutions/{proposal}/approve", {"note": "statement checked"})

    assert approved.status_code == 200 and approved.json()["status"] == "SUCCESS"
    settled = payment(db, ref)
    assert settled["status"] == "SUCCESS" and settled["answer"]["code"] == "RESOLVED_BY_OPERATOR"
    assert settled["answer"]["data"]["evidence"] == {"provider_ref": "MTN-778"}
    jobs = db("SELECT kind, payload FROM mospay.jobs WHERE transaction_id = %s AND kind = 'client_callback'",
              (settled["id"],))
    assert len(jobs) == 1 and jobs[0]["payload"]["status"] == "SUCCESS"  # the client is told, once
    audit = db("SELECT actor, action, before, after FROM mospay.audit_log WHERE target = %s ORDER BY id", (ref,))
    assert [(a["actor"], a["action"]) for a in audit] == [("admin", "resolution.propose"),
                                                          (audit[1]["actor"], "resolution.approve")]
    assert audit[1]["actor"] != "admin" and audit[1]["before"] == {"status": "UNKNOWN"}
    assert audit[1]["after"]["status"] == "SUCCESS" and audit[1]["after"]["proposed_by"] == "admin"
    assert second_admin.get("/resolutions?state=approved").json()["resolutions"][0]["id"] == proposal


def test_a_rejected_proposal_changes_nothing_and_another_may_follow(admin, second_admin, unknown_payment, db):
    ref = unknown_payment["transaction_ref"]
    proposal = propose(admin, ref).json()["id"]
    assert propose(second_admin, ref, "FAILED").status_code == 409  # one open proposal at a time

    rejected = second_admin.post(f"/resolutions/{proposal}/reject", {"note": "no trace at the provider"})

    assert rejected.status_code == 200 and payment(db, ref)["status"] == "UNKNOWN"
    assert second_admin.post(f"/resolutions/{proposal}/approve").status_code == 409  # closed for good
    assert propose(second_admin, ref, "FAILED").status_code == 201


@pytest.mark.parametrize("payload, field", [
    ({"status": "PENDING", "reason": "because"}, "status"),
    ({"status": "SUCCESS", "reason": ""}, "reason"),
    ({"status": "SUCCESS", "reason": "ok then", "evidence": ["x"]}, "evidence"),
])
def test_a_proposal_must_say_what_and_why(admin, unknown_payment, payload, field):
    response = admin.post(f"/transactions/{unknown_payment['transaction_ref']}/resolutions", payload)
    assert response.status_code == 400 and field in response.json()["error"]["details"]


def test_final_and_fresh_pending_payments_are_not_resolved_by_hand(admin, integrator, downstream):
    paid = integrator.pay().json()
    assert propose(admin, paid["transaction_ref"]).status_code == 409
    downstream.behaviour = lambda path, headers, body: (200, {"status": "PENDING", "code": "LATER"}, 0)
    pending = integrator.pay().json()
    refused = propose(admin, pending["transaction_ref"])
    assert refused.status_code == 409 and "minutes old" in refused.json()["error"]["message"]
    assert admin.post("/transactions/not-a-ref/resolutions", {"status": "SUCCESS", "reason": "x y z"}
                      ).status_code == 404


def test_a_payment_settled_meanwhile_keeps_the_providers_word(admin, second_admin, unknown_payment, db):
    ref = unknown_payment["transaction_ref"]
    proposal = propose(admin, ref).json()["id"]
    db("UPDATE mospay.transactions SET status = 'FAILED' WHERE ref = %s::uuid RETURNING id", (ref,))  # a callback

    late = second_admin.post(f"/resolutions/{proposal}/approve")

    assert late.status_code == 409 and payment(db, ref)["status"] == "FAILED"
    assert second_admin.get("/resolutions?state=rejected").json()["resolutions"][0]["id"] == proposal


def test_a_viewer_cannot_propose(base_url, admin, unknown_payment):
    viewer = Admin(base_url, user_token(base_url, admin, "viewer"))
    assert propose(viewer, unknown_payment["transaction_ref"]).status_code == 403
