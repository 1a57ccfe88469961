"""Ordered SQL migrations (``sql/migrations/NNNN_name.sql``) with a version table.

Each file is applied once, in its own transaction, under an advisory lock
so several instances starting together do not race.
"""

import logging
import re
from pathlib import Path

import psycopg
from psycopg.rows import tuple_row

from gateway.db.queries import Q

log = logging.getLogger(__name__)
MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "sql" / "migrations"
_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 7_340_001  # arbitrary, fixed: the migration advisory lock

def available_migrations(directory=MIGRATIONS_DIR):
    """``[(version, name, path)]`` in order; a misnamed file is an error."""
    found = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"{path}: migration files are named NNNN_name.sql")
        found.append((int(match.group(1)), match.group(2), path))
    return found


def pending_migrations(conn, directory=MIGRATIONS_DIR):
    """Migrations not yet applied on ``conn``'s database."""
    applied = {row[0] for row in conn.cursor(row_factory=tuple_row).execute(Q.applied_migrations)}
    return [m for m in available_migrations(directory) if m[0] not in applied]


def migrate(url, directory=MIGRATIONS_DIR):
    """Apply every pending migration; returns the versions applied."""
    applied = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(Q.lock_migrations, (_LOCK_KEY,))
        try:
            conn.execute(Q.create_version_table)
            for version, name, path in pending_migrations(conn, directory):
                with conn.transaction():
                    conn.execute(Q.mark_migrating)
                    conn.execute(path.read_text())
                    conn.execute(Q.record_migration, (version, name))
                log.info("applied migration %04d_%s", version, name)
                applied.append(version)
        finally:
            conn.execute(Q.unlock_migrations, (_LOCK_KEY,))
    return applied
