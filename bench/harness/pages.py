"""Every portal page and admin/client list API, timed with real HTTP requests against the running switch.

Deep pages are reached the way a reader reaches them, by cursor: the cursors of rows half-way down and at the
very end of each list are taken from the database and encoded as the switch encodes them.
"""

import datetime as dt
import re
import statistics
import sys
import time

import requests

from .common import APP_ID, REPO, log

_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def _csrf(html):
    match = _CSRF.search(html)
    return match.group(1) or match.group(2)


class _LoopbackSession(requests.Session):
    """A session that keeps sending the switch's Secure cookies over loopback HTTP (production settings)."""

    def request(self, *args, **kwargs):
        answer = super().request(*args, **kwargs)
        for cookie in self.cookies:
            cookie.secure = False
        return answer


def portal_session(base, password):
    """A signed-in portal session of the admin."""
    session = _LoopbackSession()
    token = _csrf(session.get(base + "/portal/login").text)
    answer = session.post(base + "/portal/login", data={"username": "admin", "password": password,
                                                         "csrf_token": token}, allow_redirects=False)
    if answer.status_code != 302:
        raise RuntimeError(f"portal sign-in: {answer.status_code} {answer.text[:300]}")
    return session


def _cursor(conn, sql, params=()):
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from gateway.admin import keyset
    row = conn.execute(sql, params).fetchone()
    return keyset.encode(keyset.Position(row[0], row[1])) if row else ""


def targets(db, rows):
    """``[(label, kind, path)]``: kind ``portal`` (session), ``admin`` (Bearer) or ``client`` (Basic)."""
    with db.connect() as conn:
        tx_mid = _cursor(conn, "SELECT created_at, id FROM mospay.transactions ORDER BY created_at DESC, id DESC "
                               "OFFSET %s LIMIT 1", (rows // 2,))
        tx_end = _cursor(conn, "SELECT created_at, id FROM mospay.transactions ORDER BY created_at, id "
                               "OFFSET 25 LIMIT 1")
        log_mid = _cursor(conn, "SELECT created_at, id FROM mospay.api_logs ORDER BY created_at DESC, id DESC "
                                "OFFSET %s LIMIT 1", (rows // 2,))
        ref, unique_id, app_id = conn.execute(
            "SELECT ref::text, unique_id, c.app_id FROM mospay.transactions t JOIN mospay.clients c "
            "ON c.id = t.client_id ORDER BY t.created_at, t.id OFFSET %s LIMIT 1", (rows // 3,)).fetchone()
        service = conn.execute("SELECT microservice || '/collection/payment' FROM mospay.services "
                               "WHERE microservice LIKE 'scalems%%' ORDER BY id LIMIT 1").fetchone()[0]
    day = dt.date.today() - dt.timedelta(days=45)
    month_ago, today = dt.date.today() - dt.timedelta(days=30), dt.date.today()
    portal = [
        ("dashboard", "/portal/"),
        ("transactions, page 1", "/portal/transactions"),
        ("transactions, half-way (cursor)", f"/portal/transactions?after={tx_mid}"),
        ("transactions, last page (cursor)", f"/portal/transactions?after={tx_end}"),
        ("transactions, previous from half-way", f"/portal/transactions?before={tx_mid}"),
        ("transactions by client", f"/portal/transactions?client={app_id}"),
        ("transactions by client, half-way", f"/portal/transactions?client={app_id}&after={tx_mid}"),
        ("transactions by service", f"/portal/transactions?service={service}"),
        ("transactions by state FAILED", "/portal/transactions?status=FAILED"),
        ("transactions by state UNKNOWN, half-way", f"/portal/transactions?status=UNKNOWN&after={tx_mid}"),
        ("transactions, one day 45 days ago", f"/portal/transactions?from={day}&to={day}"),
        ("transactions by client+state+30 days", f"/portal/transactions?client={app_id}&status=PENDING"
                                                 f"&from={month_ago}&to={today}"),
        ("transactions by unique id", f"/portal/transactions?f010={unique_id}"),
        ("transactions by reference", f"/portal/transactions?ref={ref}"),
        ("one transaction", f"/portal/transactions/{ref}"),
        ("API logs, page 1", "/portal/api-logs"),
        ("API logs, half-way (cursor)", f"/portal/api-logs?after={log_mid}"),
        ("API logs by client", f"/portal/api-logs?client={app_id}"),
        ("API logs by HTTP status 502", "/portal/api-logs?status=502"),
        ("API logs, one day 45 days ago", f"/portal/api-logs?from={day}&to={day}"),
        ("audit log", "/portal/audit"),
        ("callbacks (deliveries)", "/portal/deliveries"),
        ("needs attention", "/portal/attention"),
        ("settlement, today", "/portal/reports/settlement"),
        ("settlement, 30 days", f"/portal/reports/settlement?from={month_ago}&to={today}"),
    ]
    admin = [
        ("API transactions, page 1", "/api/v1/admin/transactions"),
        ("API transactions, half-way", f"/api/v1/admin/transactions?after={tx_mid}"),
        ("API transactions by client+state", f"/api/v1/admin/transactions?client={app_id}&status=SUCCESS"),
        ("API transactions by reference", f"/api/v1/admin/transactions?ref={ref}"),
        ("API api-logs, page 1", "/api/v1/admin/api-logs"),
        ("API audit", "/api/v1/admin/audit"),
        ("API deliveries", "/api/v1/admin/deliveries"),
        ("API unknown outcomes", "/api/v1/admin/unknown-outcomes"),
        ("API resolutions", "/api/v1/admin/resolutions"),
        ("API clients", "/api/v1/admin/clients"),
        ("API settlement, 30 days", f"/api/v1/admin/reports/settlement?from={month_ago}&to={today}"),
    ]
    client = [("client API statement", "/api/v1/payments?limit=50")]
    return ([(label, "portal", path) for label, path in portal] + [(label, "admin", path) for label, path in admin]
            + [(label, "client", path) for label, path in client])


def time_pages(base, admin_password, client_basic, pages, runs):
    """Each page once untimed (warm), then ``runs`` times: ``[{label, path, median_ms, max_ms, status}]``."""
    portal = portal_session(base, admin_password)
    token = requests.post(base + "/api/v1/admin/token", auth=("admin", admin_password)).json()["access_token"]
    headers = {"admin": {"Authorization": f"Bearer {token}"},
               "client": {"Authorization": client_basic, "App-ID": APP_ID}}
    results = []
    for label, kind, path in pages:
        session = portal if kind == "portal" else requests
        get_headers = headers.get(kind, {})
        session.get(base + path, headers=get_headers, allow_redirects=False)
        times, status = [], None
        for _ in range(runs):
            started = time.perf_counter()
            answer = session.get(base + path, headers=get_headers, allow_redirects=False)
            times.append((time.perf_counter() - started) * 1000)
            status = answer.status_code
        results.append({"label": label, "path": path, "status": status, "median_ms": statistics.median(times),
                        "max_ms": max(times)})
        log(f"{label:<42} {status} median {statistics.median(times):8.1f} ms  max {max(times):8.1f} ms")
    return results


def table(results):
    """The page table as Markdown."""
    lines = ["| page | HTTP | median ms | max ms |", "|---|--:|--:|--:|"]
    lines += [f"| {r['label']} | {r['status']} | {r['median_ms']:.1f} | {r['max_ms']:.1f} |" for r in results]
    return "\n".join(lines)
