"""Getting a database ready: embedded server if needed, migrations, seed data.

Nothing here runs when the app is built: ``python app.py`` calls ``prepare``
once before serving; ``flask db upgrade`` and ``flask seed-demo`` are the same
steps on their own.
"""

import logging
import os
import secrets

import psycopg
from psycopg.rows import dict_row

from gateway.db.embedded import start_embedded
from gateway.db.migrations import migrate
from gateway.db.queries import Q
from gateway.errors import DatabaseUnavailable
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
    sealer = Sealer(config.seal_keys)
    with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn, conn.transaction():
        _app_role(conn, sealer, repair=True)  # privileges on the tables the migrations just made
        tenants.provision_missing(conn)
        _function_runner(conn, sealer, repair=True)  # after the gates: it is granted each of them
    return applied


def serving_url(config):
    """The URL serving processes and workers log in with: never the owner's, never a superuser's.

    ``MOSPAY_APP_DATABASE_URL`` when set; otherwise the app role the owner (``DATABASE_URL``)
    made when migrating, whose sealed password the owner reads here (remade if it cannot be opened).
    """
    if not config.APP_DATABASE_URL:
        owner_url = database_url(config)
        try:
            with psycopg.connect(owner_url, autocommit=True, row_factory=dict_row) as conn, conn.transaction():
                role, password = _app_role(conn, Sealer(config.seal_keys))
        except psycopg.errors.UndefinedTable:
            raise DatabaseUnavailable("The database is not migrated yet: run `flask db upgrade` "
                                      "(or `python app.py`, which migrates before serving).") from None
        config.APP_DATABASE_URL = psycopg.conninfo.make_conninfo(owner_url, user=role, password=password)
    return config.APP_DATABASE_URL


def function_url(config, db, sealer):
    """The URL client functions' pool logs in with: the function runner's (migration 0074).

    Like the app role's: read through the owner, who remakes the runner's password when this process cannot
    open it (another secret key); read through the app role when only ``MOSPAY_APP_DATABASE_URL`` is given.
    """
    if config.DATABASE_URL:
        with psycopg.connect(config.DATABASE_URL, autocommit=True, row_factory=dict_row) as conn, \
                conn.transaction():
            conn.execute(Q.lock_app_role)
            role, password = _function_runner(conn, sealer)
            conn.execute(Q.restrict_temporary)  # privileges do not travel with a copy of the database
        return psycopg.conninfo.make_conninfo(serving_url(config), user=role, password=password)
    row = db.fetch_one(Q.function_runner)  # the app role reads the sealed password, never writes it
    password = sealer.open(row["password_sealed"]) if row else None
    if not (row and password and row["exists"]):
        raise DatabaseUnavailable("The function runner role is missing: run `flask db upgrade` (or `python app.py`).")
    return psycopg.conninfo.make_conninfo(serving_url(config), user=row["role"], password=password)


def read_url(config):
    """``DATABASE_READ_URL`` (a streaming replica) logged in as the app role, which it has from its primary."""
    app = psycopg.conninfo.conninfo_to_dict(serving_url(config))
    return psycopg.conninfo.make_conninfo(config.DATABASE_READ_URL, user=app.get("user"), password=app.get("password"))


def _app_role(conn, sealer, repair=False):
    """``(role, password)`` of the app role, made (or its password renewed) when it is missing or unreadable."""
    conn.execute(Q.lock_app_role)
    return _login_role(conn, sealer, Q.app_role, Q.ensure_app_role, repair)


def _function_runner(conn, sealer, repair=False):
    """``(role, password)`` of the function runner (migration 0074), like the app role's; under its lock."""
    return _login_role(conn, sealer, Q.function_runner, Q.ensure_function_runner, repair)


def _login_role(conn, sealer, read, ensure, repair):
    """A login role the owner makes and whose password it keeps sealed: read, or (re)made by ``ensure`` with a new
    password when the role is missing or this process's key cannot open it; ``repair`` re-grants it anyway."""
    row = conn.execute(read).fetchone()
    password = sealer.open(row["password_sealed"]) if row else None
    if row and password and row["exists"] and not repair:
        return row["role"], password
    if not (row and password and row["exists"]):
        password = secrets.token_urlsafe(32)
    role = conn.execute(ensure, {"password": password, "password_sealed": sealer.seal(password)}).fetchone()["role"]
    return role, password


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
