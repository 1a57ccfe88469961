"""Getting a database ready: embedded server if needed, migrations, seed data.

Nothing here runs when the app is built: ``python app.py`` calls ``prepare``
once before serving; ``flask db upgrade`` and ``flask seed-demo`` are the same
steps on their own.
"""

import logging
import os

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from gateway.db import SANDBOX_ROLE
from gateway.db.embedded import start_embedded
from gateway.db.migrations import migrate
from gateway.db.queries import Q
from gateway.functions import tenants
from gateway.security.sealed import Sealer

log = logging.getLogger(__name__)
_SEED_LOCK_KEY = 7_340_002


def database_url(config):
    """``DATABASE_URL``, or the URL of an embedded server started now under ``DATA_DIR``."""
    if not config.DATABASE_URL:
        config.DATABASE_URL = start_embedded(config.DATA_DIR)
        # Child processes (server workers, flask commands) reuse this server.
        os.environ["DATABASE_URL"] = config.DATABASE_URL
    return config.DATABASE_URL


def prepare(config):
    """What ``python app.py`` does once before serving: migrate, then seed (admin; demo with MOSPAY_DEMO)."""
    from gateway.runtime import Runtime  # late: the runtime resolves its URL through this module

    prepare_database(config)
    rt = Runtime(config)
    try:
        seed(rt)
    finally:
        rt.stop()  # closed before the server forks: each worker opens its own pools


def prepare_database(config):
    """Make the database ready to serve: reachable and migrated. Returns the migration versions applied."""
    url = database_url(config)
    applied = migrate(url)
    if config.SANDBOX_PASSWORD:
        _set_sandbox_password(url, config.SANDBOX_PASSWORD)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn, conn.transaction():
        tenants.provision_missing(conn, Sealer(config.seal_keys))
    return applied


def _set_sandbox_password(url, password):
    # Where PostgreSQL asks for passwords, the sandbox role (client functions) needs one too.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SANDBOX_ROLE), sql.Literal(password)))


def seed(rt, demo=None):
    """Create the initial admin and, with ``demo`` (default: MOSPAY_DEMO), the demo; returns what was created.

    Safe to run from many processes at once: they take turns on an advisory lock
    (held by a connection of its own, so it is released even if seeding fails).
    """
    from gateway.admin import demo as demo_data  # late: they import the service layer
    from gateway.admin import users

    created = []
    with psycopg.connect(database_url(rt.config), autocommit=True) as lock_conn:
        lock_conn.execute(Q.lock_migrations, (_SEED_LOCK_KEY,))
        if users.ensure_initial_admin(rt):
            created.append("admin")
        if (rt.config.DEMO if demo is None else demo) and demo_data.seed_demo(rt):
            created.append("demo")
    return created
