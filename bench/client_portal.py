"""What the client portal costs the hot path and what it saves the portal: the api_logs (client_id, created_at)
index of migration 0060.

Starts an embedded PostgreSQL in a temporary directory, applies the migrations, makes 200 clients and
ROWS API log rows spread over them, then measures with and without the index:

- the hot path's price: microseconds per API log INSERT (one row per statement, as the switch writes them);
- the portal's gain: milliseconds of the client portal's "credential last used" query, for a busy client
  and for a quiet one (five calls a month ago).

    python bench/client_portal.py            # ROWS=500000 by default; --rows N to change it
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gateway.db import Q  # noqa: E402
from gateway.db.embedded import start_embedded  # noqa: E402
from gateway.db.migrations import migrate  # noqa: E402

INSERT = ("INSERT INTO mospay.api_logs (client_id, method, path, http_status, duration_ms, remote_addr) "
          "VALUES (%s, 'POST', '/api/v1/payment/process', 200, 12.5, '127.0.0.1')")


def insert_us(conn, clients, count=5000):
    """Microseconds per single-row INSERT (committed every 100 rows, like concurrent payments would)."""
    started = time.perf_counter()
    for i in range(count):
        conn.execute(INSERT, (clients[i % len(clients)],))
        if i % 100 == 99:
            conn.commit()
    conn.commit()
    return (time.perf_counter() - started) / count * 1e6


def last_used_ms(conn, client_id, repeat=20):
    """Median milliseconds of the portal's credential-use query."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        conn.execute(Q.client_credential_use, {"client_id": client_id}).fetchone()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    rows = parser.parse_args().rows
    with tempfile.TemporaryDirectory() as data:
        url = start_embedded(Path(data))
        migrate(url)
        with psycopg.connect(url) as conn:
            conn.execute("INSERT INTO mospay.clients (app_id, name, username, password_hash) "
                         "SELECT 'bench' || i, 'Bench ' || i, 'bench' || i, 'x' FROM generate_series(1, 201) i")
            clients = [r[0] for r in conn.execute("SELECT id FROM mospay.clients ORDER BY id")]
            conn.execute("INSERT INTO mospay.api_logs (client_id, method, path, http_status, duration_ms, created_at) "
                         "SELECT (%s::bigint[])[1 + i %% 200], 'POST', '/api/v1/payment/process', 200, 10, "
                         "now() - i * interval '1 second' FROM generate_series(1, %s) i", (clients, rows))
            # A quiet client: five calls, a month ago (most clients of a big switch are quiet on a given day).
            conn.execute("INSERT INTO mospay.api_logs (client_id, method, path, http_status, duration_ms, created_at) "
                         "SELECT %s, 'POST', '/api/v1/payment/process', 200, 10, now() - interval '30 days' "
                         "FROM generate_series(1, 5)", (clients[-1],))
            busy = clients[:-1]
            conn.execute("DROP INDEX mospay.api_logs_client_created_idx")
            conn.execute("ANALYZE mospay.api_logs")
            conn.commit()
            without = (insert_us(conn, busy), last_used_ms(conn, busy[7]), last_used_ms(conn, clients[-1]))
            conn.execute("CREATE INDEX api_logs_client_created_idx ON mospay.api_logs (client_id, created_at)")
            conn.execute("ANALYZE mospay.api_logs")
            conn.commit()
            with_index = (insert_us(conn, busy), last_used_ms(conn, busy[7]), last_used_ms(conn, clients[-1]))
    print(f"api_logs rows: {rows:,} over 200 clients")
    print(f"{'':28}{'with 0060 index':>18}{'without':>12}")
    print(f"{'INSERT per row (µs)':28}{with_index[0]:>18.1f}{without[0]:>12.1f}")
    print(f"{'last used, busy client (ms)':28}{with_index[1]:>18.2f}{without[1]:>12.2f}")
    print(f"{'last used, quiet client (ms)':28}{with_index[2]:>18.2f}{without[2]:>12.2f}")


if __name__ == "__main__":
    main()
