"""Live transaction updates for the portal, as server-sent events.

Each open transactions page holds one stream: every second it asks PostgreSQL
(two index lookups) for transactions newer than its cursor and for the state of
the ones the page shows, and sends what changed. A stream ends after
``STREAM_SECONDS`` (the browser reconnects, resuming from ``Last-Event-ID``), so
a closed tab frees its server thread within a minute; no connection is held
between polls.
"""

import time
import uuid

import orjson

from gateway.admin import reports
from gateway.db import Q

STREAM_SECONDS = 55
POLL_SECONDS = 1.0
MAX_WATCHED = 300


def watched_refs(text):
    """The transaction refs a page shows (``?refs=a,b``), valid UUIDs only, at most ``MAX_WATCHED``."""
    refs = []
    for part in (text or "").split(",")[:MAX_WATCHED]:
        try:
            refs.append(str(uuid.UUID(part.strip())))
        except ValueError:
            continue
    return refs


def _event(cursor, row, new):
    data = {k: row[k] for k in ("ref", "unique_id", "status", "http_status", "app_id", "service")}
    data["error_code"] = reports.shown_error(row)  # the same code the page's Error column shows
    return f"id: {cursor}\nevent: transaction\ndata: {orjson.dumps({**data, 'new': new}).decode()}\n\n"


def stream(rt, refs, last_event_id=None, seconds=None, sleep=time.sleep):
    """Yield SSE lines: a ``transaction`` event per new transaction or changed state, and keep-alives."""
    cursor = int(last_event_id) if (last_event_id or "").isdigit() else None
    if cursor is None:
        with rt.db.connection() as conn:
            cursor = conn.execute(Q.live_cursor).fetchone()["id"]
    known = {}  # ref → status already sent (the page's rows: their first state is sent once)
    watched = list(refs)
    yield f"retry: 1000\nid: {cursor}\n\n"
    deadline = time.monotonic() + (STREAM_SECONDS if seconds is None else seconds)
    while time.monotonic() < deadline:
        with rt.db.connection() as conn:
            rows = conn.execute(Q.live_transactions, {"after_id": cursor, "refs": watched}).fetchall()
        for row in rows:
            new = row["id"] > cursor
            if known.get(row["ref"]) == row["status"] and not new:
                continue
            known[row["ref"]] = row["status"]
            if new and row["ref"] not in watched and len(watched) < MAX_WATCHED:
                watched.append(row["ref"])  # follow it to its final state
            yield _event(max(cursor, row["id"]), row, new)
        cursor = max([cursor, *(row["id"] for row in rows)])
        yield ": keep-alive\n\n"
        sleep(POLL_SECONDS)
