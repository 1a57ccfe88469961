"""What a client function call costs through its gate (migration 0074), against a direct call.

    python bench/gate_cost.py                      # the embedded server of ./instance (run `python app.py` once)
    DATABASE_URL=postgresql://… python bench/gate_cost.py

One owner connection, the first route's request function with the demo message, 1,000 calls per round and
5 interleaved rounds, each statement unprepared and prepared (the function pool prepares a call after psycopg's
threshold of 5); prints the minimum µs per call (round trip).
"""

import json
import os
import sys
import time
from pathlib import Path

import psycopg

ROUNDS, CALLS = 5, 1000
MESSAGE = {"f000": "mtnmomorwa", "f001": "collection", "f002": "payment", "f003": "akaliza", "f004": "1500",
           "f005": "250788123456", "f010": "gate-cost"}
CONTEXT = {"service": {"url": "http://127.0.0.1:5050/x"}, "client": {"app_id": "akaliza"},
           "auth": {"access_token": "t", "token_type": "Bearer"}, "credentials": {}}


def statements(conn):
    """The same call three ways, and a floor: the statement round trip alone."""
    client_id, function = conn.execute(
        "SELECT cs.client_id, cs.request_function FROM mospay.client_services cs ORDER BY cs.id LIMIT 1").fetchone()
    quoted = psycopg.sql.Identifier(function).as_string(conn)
    literal = psycopg.sql.Literal(function).as_string(conn)
    return {
        "SELECT 1": ("SELECT 1", ()),
        "direct call": (f"SELECT mospay_fn.{quoted}(%s::jsonb, %s::jsonb)", None),
        "through the gate": (f"SELECT mospay_gate.gate_{int(client_id)}({literal}, ARRAY[%s::jsonb, %s::jsonb])", None),
        "gate + end_call (the switch's)": (
            f"SELECT mospay_gate.end_call(mospay_gate.gate_{int(client_id)}({literal}, ARRAY[%s::jsonb, %s::jsonb]),"
            " '2000')", None),
    }


def measure(url):
    """Print the minimum µs per call of each statement."""
    args = (json.dumps(MESSAGE), json.dumps(CONTEXT))
    with psycopg.connect(url, autocommit=True) as conn:
        conn.prepare_threshold = None
        queries = {f"{name}, {way}": (query, args if params is None else params, way == "prepared")
                   for name, (query, params) in statements(conn).items() for way in ("unprepared", "prepared")}
        for query, params, prepare in queries.values():  # warm: plans and compiled functions
            for _ in range(200):
                conn.execute(query, params, prepare=prepare)
        best = {name: float("inf") for name in queries}
        for _ in range(ROUNDS):
            for name, (query, params, prepare) in queries.items():
                started = time.perf_counter()
                for _ in range(CALLS):
                    conn.execute(query, params, prepare=prepare)
                best[name] = min(best[name], (time.perf_counter() - started) / CALLS * 1e6)
    for name, micros in best.items():
        print(f"{name:44s} {micros:6.0f} µs per call")


def main():
    url = os.environ.get("DATABASE_URL")
    if url:
        return measure(url)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from gateway.db.embedded import start_embedded  # the server stops when this process ends
    return measure(start_embedded(Path("instance")))


if __name__ == "__main__":
    main()
