"""Telling people about an alert: a signed webhook (as client callbacks are signed) and e-mail over SMTP.

Each notification is an ``alert_notification`` job of the worker's queue, so it is retried like a client
callback (1, 2, 4 … minutes, then dead) and never holds up the evaluation. The webhook::

    POST <webhook_url>
    X-MosPay-Timestamp: <unix seconds>
    X-MosPay-Signature: sha256=<hex HMAC-SHA256(rule's secret, timestamp + "." + body)>
    X-MosPay-Delivery: <job id>

    {"event": "alert.opened" | "alert.resolved", "alert": {"id", "rule", "kind", "subject", "state", "value",
     "summary", "opened_at", "resolved_at", "acknowledged_by"}}

E-mail goes through ``MOSPAY_SMTP_HOST`` with the standard library's ``smtplib`` (STARTTLS and login when
configured).
"""

import smtplib
import time
from email.message import EmailMessage

import orjson

from gateway.db import Q
from gateway.follow_up import jobs
from gateway.follow_up.deliveries import BACKOFF, sign
from gateway.follow_up.jobs import JobResult
from gateway.security.addresses import internal_address

ALERT_FIELDS = ("id", "rule", "kind", "subject", "state", "value", "summary", "opened_at", "resolved_at",
                "acknowledged_by")


@jobs.handler("alert_notification")
def notify(rt, job):
    """Send one alert notification; a ``JobResult`` says whether it is done, retried later or dead."""
    payload = job["payload"]
    alert = rt.db.fetch_one(Q.get_alert, {"id": payload["alert_id"]})
    if alert is None:
        return JobResult("dead", last_error="the alert (or its rule) was deleted")
    body = {"event": f"alert.{payload['event']}", "alert": {k: alert[k] for k in ALERT_FIELDS}}
    send = _webhook if payload["channel"] == "webhook" else _email
    status, error = send(rt, alert, payload["target"], body, job["id"])
    if error is None:
        return JobResult("done", last_status=status)
    if job["attempts"] > len(BACKOFF):
        return JobResult("dead", last_status=status, last_error=error)
    return JobResult("queued", delay_seconds=BACKOFF[job["attempts"] - 1], last_status=status, last_error=error)


def _webhook(rt, alert, url, body, delivery_id):
    if url != alert["webhook_url"]:
        return None, "the rule's webhook URL changed since"  # never send to a URL the rule no longer names
    if not rt.config.ALLOW_PRIVATE_CALLBACKS and internal_address(url) is not None:
        return None, "the webhook URL resolves to an internal address"  # checked again: DNS may have changed
    secret = rt.sealer.open(alert["webhook_secret_sealed"]) if alert["webhook_secret_sealed"] else None
    if secret is None:
        return None, "the signing secret cannot be opened (MOSPAY_SEAL_KEY changed?)"
    raw = orjson.dumps(body, default=str)
    timestamp = str(int(time.time()))
    response = rt.forwarder.send({
        "url": url, "method": "POST", "body": raw, "timeout_ms": rt.config.CLIENT_CALLBACK_TIMEOUT_MS,
        "headers": {"Content-Type": "application/json", "X-MosPay-Timestamp": timestamp,
                    "X-MosPay-Signature": sign(secret, timestamp, raw), "X-MosPay-Delivery": str(delivery_id),
                    "User-Agent": "MosPay-Alert/1"}})
    if response.ok:
        return response.status_code, None
    return response.status_code, response.failure.value if response.failure else f"HTTP {response.status_code}"


def _email(rt, alert, address, body, delivery_id):
    config = rt.config
    if not config.SMTP_HOST:
        return None, "no SMTP server is configured (MOSPAY_SMTP_HOST)"
    if address not in (alert["emails"] or []):
        return None, "the rule no longer e-mails this address"
    message = EmailMessage()
    message["From"], message["To"] = config.SMTP_FROM, address
    message["Subject"] = f"[MosPay] {alert['state'].upper()}: {alert['summary']}"[:200]
    message["X-MosPay-Delivery"] = str(delivery_id)
    alert_text = "\n".join(f"{k}: {v}" for k, v in body["alert"].items() if v is not None)
    message.set_content(f"{body['event']}\n\n{alert_text}\n")
    try:
        with smtplib.SMTP(config.SMTP_HOST, config.SMTP_PORT, timeout=config.SMTP_TIMEOUT_SECONDS) as smtp:
            if config.SMTP_STARTTLS:
                smtp.starttls()
            if config.SMTP_USERNAME:
                smtp.login(config.SMTP_USERNAME, config.SMTP_PASSWORD or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        return None, f"SMTP: {type(error).__name__}"
    return 250, None
