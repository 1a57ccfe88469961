"""Resolving a payment by hand, with four eyes (maker-checker).

An operator proposes SUCCESS or FAILED for an ``UNKNOWN`` payment, or a ``PENDING``
one older than ``MOSPAY_PENDING_OVERDUE_MINUTES``, with a reason and evidence (the
provider's reference, a note). A second admin approves it — only then does the
payment settle, through the one settlement statement, with the client's signed
callback — or rejects it. The proposer cannot approve their own proposal unless
``MOSPAY_RESOLUTION_APPROVALS=1`` (small teams), where a proposal settles at once.
Every step is audited with who, what, and the state before and after.
"""

import logging
import uuid

from psycopg.types.json import Jsonb

from gateway.db import Q
from gateway.errors import Conflict, Forbidden, NotFound, ValidationFailed
from gateway.hot_path.settlement import FINAL, PENDING, UNKNOWN, Settlement, settle

log = logging.getLogger(__name__)
STATES = ("open", "approved", "rejected")
RESOLVED_CODE = "RESOLVED_BY_OPERATOR"


def propose(rt, ref, payload, actor):
    """Propose a final state for a payment; with single approval it settles at once."""
    status, reason, evidence = _checked(payload)
    with rt.db.transaction() as conn:
        row = conn.execute(Q.transaction_to_resolve, {"ref": _uuid(ref), "overdue_minutes":
                                                      rt.config.PENDING_OVERDUE_MINUTES}).fetchone()
        if row is None:
            raise NotFound("No payment with this reference.")
        _check_resolvable(rt, row)
        created = conn.execute(Q.insert_resolution, {"transaction_id": row["id"], "status": status,
                                                     "reason": reason, "evidence": Jsonb(evidence),
                                                     "actor": actor}).fetchone()
        if created is None:
            raise Conflict("This payment already has an open proposal: approve or reject it first.")
        _audit(conn, actor, "resolution.propose", row["ref"], {"status": row["status"]},
               {"proposed_status": status, "reason": reason, "evidence": evidence, "resolution": created["id"]})
    if rt.config.RESOLUTION_APPROVALS <= 1:
        return approve(rt, created["id"], actor, note="single approval (MOSPAY_RESOLUTION_APPROVALS=1)")
    return {"id": created["id"], "state": "open", "transaction_ref": row["ref"], "proposed_status": status}


def approve(rt, resolution_id, actor, note=None):
    """A second admin's approval: the payment settles (if it is still open) and the client is told."""
    with rt.db.transaction() as conn:
        proposal = _open_proposal(conn, resolution_id)
        if proposal["proposed_by"] == actor and rt.config.RESOLUTION_APPROVALS > 1:
            raise Forbidden("Four eyes: a proposal is approved by someone other than its proposer.")
        answer = {"status": proposal["proposed_status"], "code": RESOLVED_CODE,
                  "message": f"Resolved by an operator: {proposal['reason']}"[:500],
                  "data": {"evidence": proposal["evidence"]}}
        settled = settle(conn, proposal["transaction_id"], (UNKNOWN, PENDING),
                         Settlement.from_answer(answer, proposal["ref"], proposal["unique_id"],
                                                f"resolved by hand: proposed by {proposal['proposed_by']}, "
                                                f"approved by {actor}"), notify_client=True)
        # A callback or follow-up that settled it meanwhile has the provider's word: the proposal closes.
        conn.execute(Q.decide_resolution, {"id": resolution_id, "state": "approved" if settled else "rejected",
                                           "actor": actor,
                                           "note": note if settled else "the payment was settled meanwhile"})
        if settled is not None:
            _audit(conn, actor, "resolution.approve", proposal["ref"], {"status": proposal["transaction_status"]},
                   {"status": settled["status"], "proposed_by": proposal["proposed_by"], "approved_by": actor,
                    "resolution": resolution_id})
    if settled is None:  # raised after the commit, so the proposal stays closed
        raise Conflict("The payment is no longer open (settled meanwhile); the proposal was closed.")
    log.info("payment %s %s → %s resolved by hand (%s, %s)", proposal["ref"], proposal["transaction_status"],
             settled["status"], proposal["proposed_by"], actor,
             extra={"transaction_ref": proposal["ref"], "status": settled["status"]})
    return {"id": resolution_id, "state": "approved", "transaction_ref": proposal["ref"], "status": settled["status"]}


def reject(rt, resolution_id, actor, note=None):
    """Close a proposal without settling; the payment stays as it is."""
    with rt.db.transaction() as conn:
        proposal = _open_proposal(conn, resolution_id)
        conn.execute(Q.decide_resolution, {"id": resolution_id, "state": "rejected", "actor": actor, "note": note})
        _audit(conn, actor, "resolution.reject", proposal["ref"], {"proposed_status": proposal["proposed_status"]},
               {"note": note, "resolution": resolution_id})
    return {"id": resolution_id, "state": "rejected", "transaction_ref": proposal["ref"]}


def list_resolutions(rt, state="open", limit=100):
    """Proposals, newest first (``open``: waiting for a second person)."""
    if state is not None and state not in STATES:
        raise ValidationFailed(details={"state": f"must be one of {', '.join(STATES)}"})
    return rt.db.fetch_all(Q.list_resolutions, {"state": state, "limit": max(1, min(int(limit), 500))})


def _checked(payload):
    problems = {}
    status = payload.get("status")
    if status not in FINAL:
        problems["status"] = f"must be one of {', '.join(FINAL)}"
    reason = payload.get("reason")
    if not isinstance(reason, str) or not 3 <= len(reason.strip()) <= 500:
        problems["reason"] = "must say why, in 3 to 500 characters"
    evidence = payload.get("evidence", {})
    if not isinstance(evidence, dict) or not all(isinstance(v, str) and len(v) <= 500 for v in evidence.values()) \
            or len(evidence) > 10:
        problems["evidence"] = 'must be an object of at most 10 strings, e.g. {"provider_ref": "…", "note": "…"}'
    if problems:
        raise ValidationFailed(details=problems)
    return status, reason.strip(), evidence


def _check_resolvable(rt, row):
    if row["status"] == UNKNOWN or (row["status"] == PENDING and row["overdue"]):
        return
    if row["status"] == PENDING:
        raise Conflict(f"A PENDING payment may be resolved by hand once it is {rt.config.PENDING_OVERDUE_MINUTES} "
                       "minutes old; the provider may still answer.")
    raise Conflict(f"The payment is {row['status']}: only UNKNOWN or overdue PENDING payments are resolved by hand.")


def _open_proposal(conn, resolution_id):
    proposal = conn.execute(Q.lock_resolution, {"id": resolution_id}).fetchone()
    if proposal is None:
        raise NotFound(f"No resolution proposal {resolution_id}.")
    if proposal["state"] != "open":
        raise Conflict(f"The proposal is already {proposal['state']}.")
    return proposal


def _audit(conn, actor, action, target, before, after):
    conn.execute(Q.insert_audit, {"actor": actor, "action": action, "target": target, "before": Jsonb(before),
                                  "after": Jsonb(after)})


def _uuid(ref):
    try:
        return str(uuid.UUID(str(ref)))
    except ValueError:
        raise NotFound("No payment with this reference.") from None


def attention_counts(rt):
    """How many UNKNOWN and overdue PENDING payments, dead client callbacks and open proposals there are."""
    return rt.db.fetch_one(Q.attention_counts, {"overdue_minutes": rt.config.PENDING_OVERDUE_MINUTES})


def attention_payments(rt, limit=100):
    """UNKNOWN and overdue PENDING payments, oldest first, each with its open proposal if any."""
    return rt.db.fetch_all(Q.attention_payments, {"overdue_minutes": rt.config.PENDING_OVERDUE_MINUTES,
                                                  "limit": limit})
