"""The benchmark client through the switch's admin API, its credentials, and the scale-up to 10k clients."""

import base64
import json
import secrets
import sys
import time

import psycopg
import requests

from .common import APP_ID, FIELDS, MICROSERVICE, PAY_PATH, REPO, log

SCALE_CLIENTS = """
INSERT INTO mospay.clients (app_id, name, username, password_hash)
SELECT 'scale' || g, 'Scale client ' || g, 'scale' || g, %s FROM generate_series(1, %s) AS g
"""
SCALE_SERVICE = """
INSERT INTO mospay.services (microservice, service, route, url, method, timeout_ms, template, fields)
VALUES (%s, 'collection', 'payment', %s, 'POST', 5000, 'generic_json', %s::jsonb)
"""
SCALE_ROUTES = """
INSERT INTO mospay.client_services (client_id, service_id, request_function, response_function)
SELECT c.id, s.id, c.app_id || '_' || s.microservice || '_payment',
       'RESPONSE_' || c.app_id || '_' || s.microservice || '_payment'
FROM generate_series(1, %s) AS g
JOIN mospay.clients c ON c.app_id = 'scale' || g
JOIN mospay.services s ON s.microservice = 'scalems' || (g %% %s)
RETURNING id, (SELECT app_id FROM mospay.clients WHERE id = client_id) AS app_id,
          (SELECT microservice FROM mospay.services WHERE id = service_id) AS microservice
"""


def expect(answer, status, what):
    """The answer when it has ``status``; else RuntimeError "<what>: <status> <body>"."""
    if answer.status_code != status:
        raise RuntimeError(f"{what}: {answer.status_code} {answer.text}")
    return answer


PIN_MARK = "%PIN%"  # bench/payment.lua puts a different PIN there in every payment, as payers have


def payment_body(microservice, app_id):
    """The payment message as ``(head, tail)`` around its f010; the tail holds the PIN's mark."""
    message = {"f000": microservice, "f001": "collection", "f002": "payment", "f003": app_id,
               "f004": "1500", "f005": "RWF", "f006": "250788123456", "f009": "benchmark payment",
               "f010": "\x00", "f007": PIN_MARK}
    head, tail = json.dumps(message, separators=(",", ":")).split("\\u0000")
    return head, tail


class Client:
    """The benchmark client: onboarded once, then its Basic credentials, JWTs and payment body."""

    def __init__(self, base):
        self.base = base

    def onboard(self, admin_password, downstream_port):
        """Change the seeded admin's password, create the client, its service and the assignment; probe."""
        admin = self.base + "/api/v1/admin"
        token = self._admin_token(admin_password)
        new_password = "bench-admin-" + secrets.token_hex(12)
        changed = requests.post(admin + "/password", headers={"Authorization": f"Bearer {token}"},
                                json={"current_password": admin_password, "new_password": new_password})
        changed.raise_for_status()
        self.admin_password = new_password
        headers = {"Authorization": f"Bearer {self._admin_token(new_password)}"}
        client = expect(requests.post(admin + "/clients", headers=headers,
                                      json={"name": "Benchmark", "app_id": APP_ID}), 201, "create client").json()
        service = {"microservice": MICROSERVICE, "service": "collection", "route": "payment",
                   "url": f"http://127.0.0.1:{downstream_port}/pay", "timeout_ms": 5000,
                   "template": "generic_json", "fields": FIELDS}
        expect(requests.post(admin + "/services", headers=headers, json=service), 201, "create service")
        expect(requests.post(f"{admin}/clients/{APP_ID}/services", headers=headers,
                             json={k: service[k] for k in ("microservice", "service", "route")}), 201, "assign")
        self.client = client
        self.basic = "Basic " + base64.b64encode(f"{client['username']}:{client['password']}".encode()).decode()
        head, tail = payment_body(MICROSERVICE, APP_ID)
        self.body_head, self.body_tail = head, tail
        self.probe()
        return self

    def _admin_token(self, password):
        answer = requests.post(self.base + "/api/v1/admin/token", auth=("admin", password))
        return expect(answer, 200, "admin token").json()["access_token"]

    def jwt(self):
        answer = requests.post(self.base + "/api/v1/auth/token", headers={"Authorization": self.basic,
                                                                           "App-ID": APP_ID})
        return "Bearer " + expect(answer, 200, "client token").json()["access_token"]

    def authorization(self, auth):
        """The Authorization header of a step: Basic, or a fresh JWT."""
        return self.basic if auth == "basic" else self.jwt()

    def probe(self):
        """Payments until every worker knows the route (NOTIFY reload) and answers SUCCESS."""
        deadline = time.monotonic() + 30
        good, n, last = 0, 0, None
        session = requests.Session()
        while good < 20:
            n += 1
            body = self.body_head + f"probe-{n}" + self.body_tail.replace(PIN_MARK, f"{n % 10000:04d}")
            session.close()  # a new connection each time: reach every worker
            answer = session.post(self.base + PAY_PATH, data=body, headers={
                "Authorization": self.basic, "App-ID": APP_ID, "Content-Type": "application/json"})
            last = answer
            if answer.status_code == 200 and answer.json().get("status") == "SUCCESS" \
                    and "Server-Timing" in answer.headers:
                good += 1
            elif time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark route does not work: {answer.status_code} {answer.text}")
            else:
                good = 0
                time.sleep(0.2)
        self.probe_answer = last
        log(f"route ready: {APP_ID}/{MICROSERVICE}/collection/payment → downstream /pay "
            f"(Server-Timing: {last.headers['Server-Timing']})")


def scale_up(db, base, downstream_port, clients, routes):
    """Onboard ``clients`` more clients and ``routes`` more routes (2 functions each), in one transaction.

    Uses the switch's own function generator; one NOTIFY at commit makes every worker reload once.
    """
    if str(REPO) not in sys.path:  # DATABASE_URL mode never imported the switch before this
        sys.path.insert(0, str(REPO))
    from gateway.functions import catalogue
    from gateway.naming import function_names
    from gateway.security.passwords import hash_password

    started = time.monotonic()
    services = max(1, routes // 10)
    with psycopg.connect(db.url) as conn:
        conn.row_factory = psycopg.rows.dict_row
        conn.execute(SCALE_CLIENTS, (hash_password("scale-" + secrets.token_hex(8), rounds=4), clients))
        for number in range(services):
            conn.execute(SCALE_SERVICE, (f"scalems{number}", f"http://127.0.0.1:{downstream_port}/pay",
                                         json.dumps(FIELDS)))
        rows = conn.execute(SCALE_ROUTES, (routes, services)).fetchall()
        for row in rows:
            names = function_names(row["app_id"], row["microservice"], "payment")
            catalogue.generate(conn, row["id"], "generic_json", names, {
                "client": {"app_id": row["app_id"], "name": row["app_id"]},
                "service": {"microservice": row["microservice"], "service": "collection", "route": "payment"},
            }, "bench")
        conn.execute("SELECT pg_notify('mospay_registry', 'bench-scale')")
    with db.connect() as conn:
        total = conn.execute("SELECT (SELECT count(*) FROM mospay.clients), "
                             "(SELECT count(*) FROM mospay.client_services)").fetchone()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker answers /ready with the new route count
        loaded = {requests.get(base + "/ready", timeout=5).json()["checks"]["routes_loaded"]
                  for _ in range(8)}
        if loaded == {total[1]}:
            break
        time.sleep(0.5)
    log(f"scaled to {total[0]} clients and {total[1]} routes in {time.monotonic() - started:.1f} s")
    return {"clients": total[0], "routes": total[1]}


def paying_clients(db, base, work, count):
    """Give the first ``count`` scaled clients (each with its own route) their own password, and write the
    file ``bench/payment.lua`` reads in its many-clients mode: per line, Authorization, App-ID and the message
    around its f010. Returns the file's path."""
    from gateway.functions import tenants
    from gateway.security.passwords import hash_password

    lines, started = [], time.monotonic()
    with psycopg.connect(db.url, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute(
            "SELECT c.id, c.app_id, c.username, s.microservice FROM mospay.client_services cs "
            "JOIN mospay.clients c ON c.id = cs.client_id JOIN mospay.services s ON s.id = cs.service_id "
            "WHERE c.app_id LIKE 'scale%%' ORDER BY cs.id LIMIT %s", (count,)).fetchall()
        for row in rows:
            # Clients inserted by scale_up have no execution role yet: made as the switch makes them.
            tenants.provision(conn, row["id"])
        for app_id, username, microservice in ((r["app_id"], r["username"], r["microservice"]) for r in rows):
            password = f"pay-{app_id}-{secrets.token_hex(6)}"
            conn.execute("UPDATE mospay.clients SET password_hash = %s WHERE app_id = %s",
                         (hash_password(password, rounds=4), app_id))
            basic = "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
            head, tail = payment_body(microservice, app_id)
            lines.append("\t".join((basic, app_id, head, tail)))
        conn.execute("SELECT pg_notify('mospay_registry', 'bench-paying')")  # every worker reloads its clients
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the last client's new password works on every worker
        basic, app_id = lines[-1].split("\t")[:2]
        answers = {requests.post(base + "/api/v1/auth/token", headers={"Authorization": basic, "App-ID": app_id},
                                 timeout=5).status_code for _ in range(8)}
        if answers == {200}:
            break
        time.sleep(0.5)
    path = work / "paying-clients.tsv"
    path.write_text("\n".join(lines) + "\n")
    log(f"{len(lines)} clients given their own credentials in {time.monotonic() - started:.1f} s")
    return path, len(lines)
