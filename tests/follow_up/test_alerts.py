"""Alerts end to end: rules through the admin API, evaluated by the worker's schedule, told by a signed webhook
(a real HTTP receiver) and by e-mail (a real SMTP server, aiosmtpd), resolved by themselves, acknowledged."""

import hashlib
import hmac
import threading
import time
from datetime import UTC, datetime
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg
import pytest
import requests
from aiosmtpd.controller import Controller

from config import Config
from gateway.follow_up import alerts, jobs, partitions
from tests.admin.test_reconciliation import statement, upload
from tests.conftest import TEST_SETTINGS
from tests.factories import Admin, Integrator, user_token
from tests.servers import free_port

NOW = datetime.now(UTC)


class Mailbox:
    """aiosmtpd's handler: every message received, parsed."""

    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"


class Receiver(ThreadingHTTPServer):
    """An operations team's webhook endpoint: records each request's headers and raw body."""

    daemon_threads = True

    def __init__(self):
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.server.received.append((dict(self.headers), raw))
                self.send_response(204)
                self.end_headers()

        super().__init__(("127.0.0.1", 0), Handler)
        self.received = []


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory, mailbox):
    """This module's switch sends e-mail through the local SMTP server and evaluates alerts on every round."""
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"), **TEST_SETTINGS,
                  SMTP_HOST="127.0.0.1", SMTP_PORT=mailbox[1], SMTP_FROM="mospay@switch.test", ALERT_EVERY_SECONDS=0)


@pytest.fixture
def receiver():
    server = Receiver()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def decline(downstream):
    downstream.behaviour = lambda path, headers, body: (200, {"status": "FAILED", "code": "DECLINED"}, 0)


def worker_round(rt):
    """What `flask worker` does each round: the periodic evaluation, then the due jobs (notifications)."""
    jobs.work(rt, once=True)


def events(admin, alert_id):
    return [e["event"] for e in admin.get(f"/alerts/{alert_id}").json()["events"]]


def test_a_client_failing_opens_one_alert_tells_webhook_and_mail_then_resolves_itself(
        admin, integrator, downstream, rt, receiver, mailbox, db):
    app_id = integrator.client["app_id"]
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    created = admin.post("/alerts/rules", {
        "name": f"{app_id} failing", "kind": "success_rate", "webhook_url": hook, "emails": ["ops@switch.test"],
        "params": {"scope": "client", "subject": app_id, "threshold_percent": 50, "minutes": 15, "min_count": 4}})
    assert created.status_code == 201, created.text
    secret = created.json()["webhook_secret"]
    assert "webhook_secret" not in str(admin.get("/alerts/rules").json())  # shown once
    integrator.pay()
    decline(downstream)
    for _ in range(3):
        integrator.pay()

    worker_round(rt)
    worker_round(rt)  # the condition still holds: still one alert, nobody told twice

    opened = [a for a in admin.get("/alerts?state=open").json()["alerts"] if a["subject"] == app_id]
    assert len(opened) == 1 and float(opened[0]["value"]) == 25.0
    assert "success rate 25.0 %" in opened[0]["summary"]
    assert len(receiver.received) == 1
    headers, raw = receiver.received[0]
    signed = f"{headers['X-MosPay-Timestamp']}.".encode() + raw
    assert headers["X-MosPay-Signature"] == "sha256=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert b'"event":"alert.opened"' in raw
    box, _ = mailbox
    mail = [m for m in box.messages if app_id in m["Subject"]]
    assert len(mail) == 1 and mail[0]["Subject"].startswith("[MosPay] OPEN:") and mail[0]["To"] == "ops@switch.test"

    downstream.reset()  # the provider recovers: 7 of 10 succeed
    for _ in range(6):
        integrator.pay()
    worker_round(rt)

    alert = admin.get(f"/alerts/{opened[0]['id']}").json()
    assert alert["state"] == "resolved" and events(admin, alert["id"]) == ["opened", "resolved"]
    assert [b'"alert.resolved"' in raw for _, raw in receiver.received] == [False, True]
    assert [m["Subject"].split(":")[0] for m in box.messages if app_id in m["Subject"]] == [
        "[MosPay] OPEN", "[MosPay] RESOLVED"]


def test_acknowledging_is_recorded_once_and_audited(admin, integrator, rt, db, base_url):
    db("UPDATE mospay.transactions SET status = 'UNKNOWN', updated_at = now() - interval '2 hours' "
       "WHERE ref = %s::uuid RETURNING id", (integrator.pay().json()["transaction_ref"],))
    rule = admin.post("/alerts/rules", {"name": "stale unknown", "kind": "unknown_age",
                                        "params": {"minutes": 30}}).json()
    alerts.evaluate(rt)
    alert = next(a for a in admin.get("/alerts?state=open").json()["alerts"] if a["rule_id"] == rule["id"])

    colleague = Admin(base_url, user_token(base_url, admin, "admin"))
    acknowledged = colleague.post(f"/alerts/{alert['id']}/acknowledge")

    assert acknowledged.status_code == 200 and acknowledged.json()["acknowledged_by"].startswith("admin")
    assert admin.post(f"/alerts/{alert['id']}/acknowledge").status_code == 409
    assert events(admin, alert["id"]) == ["opened", "acknowledged"]
    assert db("SELECT count(*) AS n FROM mospay.audit_log WHERE action = 'alert.acknowledge' AND target = %s",
              (f"alert:{alert['id']}",))[0]["n"] == 1
    assert admin.post("/alerts/999999/acknowledge").status_code == 404


def test_a_provider_whose_circuit_opened_is_alerted_until_it_recovers(admin, base_url, rt, db):
    client = admin.create_client()
    dead = admin.create_service(f"http://127.0.0.1:{free_port()}/pay")  # nothing listens: connection refused
    admin.assign(client, dead)
    payer = Integrator(base_url, client, dead)
    answers = [payer.pay().json()["error"]["code"] for _ in range(rt.config.CIRCUIT_THRESHOLD + 2)]
    assert answers[-1] == "UPSTREAM_CIRCUIT_OPEN"  # the serving process's breaker opened
    admin.post("/alerts/rules", {"name": "circuit", "kind": "circuit_open", "params": {"minutes": 5}})

    assert alerts.evaluate(rt)["opened"] >= 1
    alert = next(a for a in admin.get("/alerts?state=open").json()["alerts"] if a["subject"] == dead["microservice"])
    assert "refused by an open circuit" in alert["summary"]

    db("UPDATE mospay.transactions SET created_at = created_at - interval '1 hour' WHERE client_id = "
       "(SELECT id FROM mospay.clients WHERE app_id = %s) RETURNING id", (client["app_id"],))  # an hour later
    alerts.evaluate(rt)
    assert admin.get(f"/alerts/{alert['id']}").json()["state"] == "resolved"


def test_latency_dead_callbacks_and_reconciliation_rules_open_and_clear(admin, integrator, rt, db):
    app_id, microservice = integrator.client["app_id"], integrator.service["microservice"]
    paid = integrator.pay().json()
    db("INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload, state, attempts) SELECT 'client_callback', "
       "id, client_id, '{}', 'dead', 11 FROM mospay.transactions WHERE ref = %s::uuid RETURNING id",
       (paid["transaction_ref"],))
    latency = admin.post("/alerts/rules", {"name": "slow", "kind": "latency_p99", "params": {
        "scope": "client", "subject": app_id, "threshold_ms": 0.001, "minutes": 5, "min_count": 1}}).json()
    admin.post("/alerts/rules", {"name": "dead", "kind": "dead_callbacks", "params": {"subject": app_id}})
    admin.post("/alerts/rules", {"name": "recon", "kind": "reconciliation", "params": {"subject": microservice}})
    today = time.strftime("%Y-%m-%d")
    upload(admin, microservice, statement((today, paid["transaction_ref"], "p", "1", "RWF", "SUCCESS"),
                                          header=("time", "reference", "payer", "amount", "currency", "status")))

    alerts.evaluate(rt)
    open_rules = {a["rule"] for a in admin.get("/alerts?state=open").json()["alerts"]}
    assert {"slow", "dead", "recon"} <= open_rules

    changed = requests.patch(f"{admin.base_url}/api/v1/admin/alerts/rules/{latency['id']}", headers=admin.headers,
                             json={"params": {**latency["params"], "threshold_ms": 60000}}, timeout=10)
    assert changed.status_code == 200, changed.text
    delivery = db("SELECT id FROM mospay.jobs WHERE kind = 'client_callback' AND state = 'dead' AND transaction_id = "
                  "(SELECT id FROM mospay.transactions WHERE ref = %s::uuid)", (paid["transaction_ref"],))[0]["id"]
    assert admin.post(f"/deliveries/{delivery}/resend").status_code == 200
    upload(admin, microservice, statement((today, paid["transaction_ref"], "p", "1500", "RWF", "SUCCESS"),
                                          header=("time", "reference", "payer", "amount", "currency", "status")))

    assert alerts.evaluate(rt)["resolved"] >= 3
    assert not {"slow", "dead", "recon"} & {a["rule"] for a in admin.get("/alerts?state=open").json()["alerts"]}


def _open_alerts_of(admin, rule):
    return [a for a in admin.get("/alerts?state=open").json()["alerts"] if a["rule"] == rule]


def test_rows_in_a_default_partition_open_an_alert_until_maintenance_moves_them(admin, rt):
    created = admin.post("/alerts/rules", {"name": "partitions behind", "kind": "default_partition", "params": {}})
    assert created.status_code == 201, created.text
    alerts.evaluate(rt)
    assert not _open_alerts_of(admin, "partitions behind")  # maintenance keeps up
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:  # the worker was down for weeks
        for row in partitions.status(rt):
            if row["parent"] == "audit_log" and not row["is_default"] and row["upper_bound"] > NOW:
                owner.execute(f"ALTER TABLE mospay.audit_log DETACH PARTITION mospay.{row['partition']}")
                owner.execute(f"DROP TABLE mospay.{row['partition']}")
    admin.post("/alerts/rules", {"name": "meanwhile", "kind": "unknown_age", "params": {"minutes": 60}})  # audited

    alerts.evaluate(rt)
    behind = _open_alerts_of(admin, "partitions behind")
    partitions.maintain(rt)
    alerts.evaluate(rt)

    assert [(a["subject"], a["value"]) for a in behind] == [("audit_log", "1")]
    assert "outside every time partition" in behind[0]["summary"]
    assert not _open_alerts_of(admin, "partitions behind")


@pytest.mark.parametrize("rule, problems", [
    ({"name": "x", "kind": "success_rate", "params": {"scope": "planet", "minutes": 0}},
     {"params.scope", "params.minutes", "params.threshold_percent"}),
    ({"name": "x", "kind": "weather", "params": {}}, {"kind"}),
    ({"name": "", "kind": "unknown_age", "params": {"minutes": 5, "colour": "red"}, "emails": ["not-an-address"]},
     {"name", "params.colour", "emails"}),
])
def test_a_bad_rule_is_refused_naming_every_problem(admin, rule, problems):
    refused = admin.post("/alerts/rules", rule)
    assert refused.status_code == 400 and set(refused.json()["error"]["details"]) == problems, refused.text


def test_a_webhook_into_the_switchs_network_is_refused_as_for_client_callbacks(admin, rt):
    rt.config.ALLOW_PRIVATE_CALLBACKS = False
    try:
        refused = admin.post("/alerts/rules", {"name": "inside", "kind": "dead_callbacks", "params": {},
                                               "webhook_url": "http://10.0.0.8/hook"})
    finally:
        rt.config.ALLOW_PRIVATE_CALLBACKS = True
    assert refused.status_code == 400 and "private" in refused.json()["error"]["details"]["webhook_url"]
    assert admin.post("/alerts/rules", {"name": "same", "kind": "dead_callbacks", "params": {}}).status_code == 201
    assert admin.post("/alerts/rules", {"name": "same", "kind": "dead_callbacks", "params": {}}).status_code == 409
    assert requests.post(f"{admin.base_url}/api/v1/admin/alerts/rules", json={}, timeout=10).status_code == 401


def test_a_webhook_secret_is_rotated_and_only_the_new_one_signs(admin, integrator, rt, receiver, db):
    rule = admin.post("/alerts/rules", {"name": "rotated", "kind": "dead_callbacks", "params": {}}).json()
    assert "webhook_secret" not in rule
    hook = f"http://127.0.0.1:{receiver.server_port}/hook"
    added = requests.patch(f"{admin.base_url}/api/v1/admin/alerts/rules/{rule['id']}", headers=admin.headers,
                           json={"webhook_url": hook}, timeout=10).json()
    rotated = admin.post(f"/alerts/rules/{rule['id']}/webhook-secret").json()
    assert added["webhook_secret"] != rotated["webhook_secret"]
    paid = integrator.pay().json()
    db("INSERT INTO mospay.jobs (kind, transaction_id, client_id, state) SELECT 'client_callback', id, client_id, "
       "'dead' FROM mospay.transactions WHERE ref = %s::uuid RETURNING id", (paid["transaction_ref"],))

    worker_round(rt)

    headers, raw = next((h, r) for h, r in receiver.received if integrator.client["app_id"].encode() in r)
    signed = f"{headers['X-MosPay-Timestamp']}.".encode() + raw
    expected = hmac.new(rotated["webhook_secret"].encode(), signed, hashlib.sha256).hexdigest()
    assert headers["X-MosPay-Signature"] == "sha256=" + expected
    assert admin.post("/alerts/rules/999999/webhook-secret").status_code == 404
