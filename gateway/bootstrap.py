"""Getting a database ready: embedded server if needed, migrations, seed data."""

import logging
import os

import psycopg
from psycopg import sql

from gateway.db import SANDBOX_ROLE
from gateway.db.embedded import start_embedded
from gateway.db.migrations import migrate
from gateway.db.queries import Q

log = logging.getLogger(__name__)
_SEED_LOCK_KEY = 7_340_002


def database_url(config):
    """``DATABASE_URL``, or the URL of an embedded server started now under ``DATA_DIR``."""
    if not config.DATABASE_URL:
        config.DATABASE_URL = start_embedded(config.DATA_DIR)
        # Child processes (gunicorn workers, flask commands) reuse this server.
        os.environ["DATABASE_URL"] = config.DATABASE_URL
    return config.DATABASE_URL


def prepare_database(config):
    """Make the database ready to serve: reachable and migrated. Returns its URL."""
    url = database_url(config)
    migrate(url)
    if config.SANDBOX_PASSWORD:
        _set_sandbox_password(url, config.SANDBOX_PASSWORD)
    return url


def _set_sandbox_password(url, password):
    # Where PostgreSQL asks for passwords, the sandbox role (client functions) needs one too.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(SANDBOX_ROLE), sql.Literal(password)))


def seed(rt):
    """Create the initial admin and, unless disabled, the demo; safe to run from many processes."""
    from gateway import demo, users  # late: they import the service layer

    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as lock_conn:
        lock_conn.execute(Q.lock_migrations, (_SEED_LOCK_KEY,))
        users.ensure_initial_admin(rt)
        if rt.config.DEMO:
            demo.seed_demo(rt)
