"""What one hot statement costs the worker's Python: psycopg's ``execute`` against ``gateway.db.direct``.

    python bench/statement_cost.py                      # a throwaway embedded server in a temp directory
    DATABASE_URL=postgresql://… python bench/statement_cost.py

A statement shaped like the claim's (a bigint, text, a jsonb message, a bytea hash; a row of four columns back),
2,000 runs per round and 5 interleaved rounds, each way unprepared and prepared; prints the minimum CPU µs of
this process per statement (the worker's cost; the server's is not in it) and the wall µs beside it.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.db import direct  # noqa: E402 - after the path (and with it the switch's JSON dumps and loads)

ROUNDS, RUNS = 5, 2000
MESSAGE = {"f000": "benchms", "f001": "collection", "f002": "payment", "f003": "benchclient", "f004": "1500",
           "f005": "RWF", "f006": "250788123456", "f007": "****", "f009": "benchmark payment", "f010": "s-1-1297"}
QUERY = ("SELECT %(id)s::bigint AS id, %(ref)s::text AS ref, %(request)s::jsonb AS request, now() AS created_at, "
         "%(hash)s::bytea AS hash")


def measure(url):
    """Print the minimum CPU and wall µs per statement of each way."""
    params = {"id": 123456789, "ref": "9c9e958b-be89-4c78-b7e6-cc7774fa6ab1", "request": Jsonb(MESSAGE),
              "hash": bytes(32)}
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
        ways = {
            "psycopg execute, unprepared": lambda: conn.execute(QUERY, params, prepare=False).fetchone(),
            "psycopg execute, prepared": lambda: conn.execute(QUERY, params, prepare=True).fetchone(),
            "direct, unprepared": lambda: direct.fetch_one(conn, QUERY, params),
            "direct, prepared": lambda: direct.fetch_one(conn, QUERY, params, prepare=True),
        }
        for run in ways.values():
            for _ in range(200):
                run()
        best = {name: (float("inf"), float("inf")) for name in ways}
        for _ in range(ROUNDS):
            for name, run in ways.items():
                cpu, wall = time.process_time(), time.perf_counter()
                for _ in range(RUNS):
                    run()
                cpu, wall = (time.process_time() - cpu) / RUNS * 1e6, (time.perf_counter() - wall) / RUNS * 1e6
                best[name] = (min(best[name][0], cpu), min(best[name][1], wall))
    for name, (cpu, wall) in best.items():
        print(f"{name:30s} {cpu:6.0f} µs CPU {wall:6.0f} µs wall per statement")


def main():
    url = os.environ.get("DATABASE_URL")
    if url:
        return measure(url)
    from gateway.db.embedded import start_embedded  # the server stops when this process ends
    with tempfile.TemporaryDirectory() as directory:
        return measure(start_embedded(Path(directory)))


if __name__ == "__main__":
    main()
