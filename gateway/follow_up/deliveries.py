"""Outbound client callbacks: a signed JSON notification when a payment settles after its answer.

When a payment reaches SUCCESS or FAILED after the synchronous answer (a
provider callback, recovery, an unknown-outcome follow-up), the one
settlement statement (``gateway/hot_path/settlement.py``) queues a delivery
job. The worker POSTs the notification to the client's ``callback_url`` with::

    X-MosPay-Timestamp: <unix seconds>
    X-MosPay-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
    X-MosPay-Delivery: <delivery id>   (the same on every retry: deduplicate on it)

A 2xx is delivered; anything else is retried after 1, 2, 4 … minutes, at most
6 hours apart, then dead-lettered (``state = dead``), listed and re-sendable.
"""

import logging
import time

import orjson

from gateway.admin import keyset, lists
from gateway.db import Q
from gateway.errors import NotFound, ValidationFailed
from gateway.follow_up import jobs
from gateway.follow_up.jobs import JobResult
from gateway.security.sealed import hmac_sha256_hex, new_signing_secret

log = logging.getLogger(__name__)
# Seconds before each retry: 1 min doubling to 6 h; after the last one fails, the delivery is dead.
BACKOFF = (60, 120, 240, 480, 960, 1920, 3840, 7680, 15360, 21600)
REPLAY_WINDOW_SECONDS = 300  # what clients should enforce on X-MosPay-Timestamp (documented)
STATES = ("queued", "done", "dead")


def sign(secret, timestamp, body):
    """``sha256=<hex>`` over ``timestamp + "." + body``: what clients recompute."""
    return "sha256=" + hmac_sha256_hex(secret, f"{timestamp}.".encode() + body)


def _secret(rt, conn, target):
    sealed = target["callback_secret_sealed"]
    if sealed is None:
        row = conn.execute(Q.seal_first_callback_secret, {"client_id": target["id"],
                                                          "sealed": rt.sealer.seal(new_signing_secret())}).fetchone()
        sealed = row["callback_secret_sealed"] if row else conn.execute(
            Q.delivery_target, {"client_id": target["id"]}).fetchone()["callback_secret_sealed"]
    return rt.sealer.open(sealed)


@jobs.handler("client_callback")
def deliver(rt, job):
    """Send one notification; a ``JobResult`` says whether it is done, retried later or dead."""
    with rt.db.connection() as conn:
        target = conn.execute(Q.delivery_target, {"client_id": job["client_id"]}).fetchone()
        secret = _secret(rt, conn, target) if target and target["callback_url"] else None
    if not target or not target["callback_url"]:
        return JobResult("dead", last_error="the client has no callback_url any more")
    if secret is None:
        return _retry(job, None, "the signing secret cannot be opened (MOSPAY_SEAL_KEY changed?)")
    body = orjson.dumps(job["payload"])
    timestamp = str(int(time.time()))
    response = rt.forwarder.send({
        "url": target["callback_url"], "method": "POST", "body": body,
        "timeout_ms": rt.config.CLIENT_CALLBACK_TIMEOUT_MS,
        "headers": {"X-MosPay-Timestamp": timestamp, "X-MosPay-Signature": sign(secret, timestamp, body),
                    "X-MosPay-Delivery": str(job["id"]), "User-Agent": "MosPay-Callback/1"}})
    if response.ok:
        return JobResult("done", last_status=response.status_code)
    return _retry(job, response.status_code,
                  response.failure.value if response.failure else f"HTTP {response.status_code}")


def _retry(job, status, error):
    if job["attempts"] > len(BACKOFF):
        log.error("client callback %s dead after %d attempts: %s", job["id"], job["attempts"], error)
        return JobResult("dead", last_status=status, last_error=error)
    return JobResult("queued", delay_seconds=BACKOFF[job["attempts"] - 1], last_status=status, last_error=error)


def deliveries_page(rt, app_id=None, state=None, limit=100, cursors=None):
    """A keyset page of client callback deliveries, newest first (``cursors``: ``(after, before)``)."""
    if state is not None and state not in STATES:
        raise ValidationFailed(details={"state": f"must be one of {', '.join(STATES)}"})
    after, before = cursors or (None, None)
    page = keyset.fetch_page(rt.db, lists.jobs_query("client_callback", app_id, state), lists.J.c.created_at,
                             lists.J.c.id, after=after, before=before, per_page=max(1, min(int(limit), 500)))
    page.items = [{**row, **{k: row[k].isoformat() if row[k] else None
                             for k in ("run_at", "created_at", "updated_at", "completed_at")}} for row in page.items]
    return page


def list_deliveries(rt, app_id=None, state=None, limit=100):
    """The newest client callback deliveries (the first page of ``deliveries_page``)."""
    return deliveries_page(rt, app_id, state, limit).items


def resend(rt, delivery_id, actor):
    """Queue a delivery again now (delivered, dead or waiting), with a fresh retry budget."""
    with rt.db.transaction() as conn:
        row = conn.execute(Q.resend_delivery, {"id": delivery_id}).fetchone()
        if row is None:
            raise NotFound(f"No client callback delivery {delivery_id}.")
        conn.execute(Q.insert_audit, {"actor": actor, "action": "delivery.resend", "target": str(delivery_id),
                                      "before": None, "after": None})
    return {"id": delivery_id, "state": row["state"]}
