"""Shared fixtures: a real PostgreSQL, the app on a real HTTP port, a real downstream, a browser.

One PostgreSQL per run (the embedded server in a fresh data directory, or the
server ``DATABASE_URL`` names) holds a template database, migrated and seeded
once. Each test module gets its own copy of it (``CREATE DATABASE … TEMPLATE``),
its own routes folder, app and HTTP server, dropped afterwards: no module sees
another's rows or routes, so none slows or breaks another.
"""

import concurrent.futures
import os
import shutil
import tempfile
import threading
import uuid

os.environ.setdefault("XDG_RUNTIME_DIR", tempfile.mkdtemp())  # the embedded server's platformdirs asks

import psycopg
import pytest
import requests
from psycopg import sql
from werkzeug.serving import make_server

from config import Config
from gateway import bootstrap, create_app
from gateway.runtime import Runtime
from tests.downstream import Downstream
from tests.factories import Admin, Integrator
from tests.servers import clean_env, free_port, start_app, stop_app

ADMIN_PASSWORD = "admin-test-password-1"
TEST_SETTINGS = {"DEMO": False, "BCRYPT_ROUNDS": 4, "FUNCTION_TIMEOUT_MS": 1000, "REGISTRY_LISTEN": False,
                 "DB_POOL_MIN": 1, "DB_POOL_MAX": 24, "THREADS": 16}


def _create_database(server_url, name, template=None):
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} {}").format(
            sql.Identifier(name), sql.SQL("TEMPLATE {}").format(sql.Identifier(template)) if template else sql.SQL("")))
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)


def _drop_database(server_url, name):
    """Drop the database and the roles it created: ``mospay_t_<its oid>_<client id>``, ``mospay_app_<its oid>``,
    ``mospay_r_<its oid>``.

    Copies of the template serve as the template's app role; it goes when the template does."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute("SELECT oid FROM pg_database WHERE datname = %s", (name,)).fetchone()
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if row is None:
            return
        roles = conn.execute("SELECT rolname FROM pg_roles WHERE rolname LIKE %s OR rolname IN (%s, %s)",
                             (f"mospay\\_t\\_{row[0]}\\_%", f"mospay_app_{row[0]}", f"mospay_r_{row[0]}"))
        for (role,) in roles.fetchall():
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture(scope="session")
def server_url(tmp_path_factory):
    """A URL on this run's PostgreSQL server: the embedded one, or the one ``DATABASE_URL`` names."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from gateway.db.embedded import start_embedded
    url = start_embedded(tmp_path_factory.mktemp("data"))
    with psycopg.connect(url, autocommit=True) as conn:  # a throwaway server: durability buys nothing here
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            conn.execute(sql.SQL("ALTER SYSTEM SET {} = off").format(sql.Identifier(setting)))
        conn.execute("SELECT pg_reload_conf()")
    return url


@pytest.fixture(scope="session")
def template_database(server_url, tmp_path_factory):
    """A database migrated and seeded (initial admin) once, the explicit steps a deployment runs."""
    name = f"mospay_template_{uuid.uuid4().hex[:10]}"
    config = Config(DATABASE_URL=_create_database(server_url, name), ROUTES_DIR=tmp_path_factory.mktemp("routes"),
                    **TEST_SETTINGS)
    bootstrap.prepare_database(config)
    rt = Runtime(config)
    bootstrap.seed(rt)
    rt.stop()  # a template must have no connection when it is copied
    yield name
    _drop_database(server_url, name)


class TemplateCopies:
    """Copies of the template database; the next one is made in the background while a module runs."""

    def __init__(self, server_url, template):
        self.server_url, self.template = server_url, template
        self._maker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="template-copies")
        self._next = None

    def _copy(self):
        name = f"mospay_test_{uuid.uuid4().hex[:10]}"
        return name, _create_database(self.server_url, name, template=self.template)

    def take(self):
        """``(name, url)`` of a fresh copy."""
        ready = self._next or self._maker.submit(self._copy)
        self._next = self._maker.submit(self._copy)
        return ready.result()

    def drop(self, name):
        _drop_database(self.server_url, name)

    def close(self):
        if self._next is not None:
            self.drop(self._next.result()[0])
        self._maker.shutdown()


@pytest.fixture(scope="session")
def template_copies(server_url, template_database):
    copies = TemplateCopies(server_url, template_database)
    yield copies
    copies.close()


@pytest.fixture(scope="module")
def database_url(template_copies):
    """This module's own database: a copy of the template, dropped after the module."""
    name, url = template_copies.take()
    yield url
    template_copies.drop(name)


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"), **TEST_SETTINGS)


@pytest.fixture(scope="module")
def app(config):
    app = create_app(config)
    yield app
    app.extensions["mospay"].stop()


@pytest.fixture(scope="module")
def rt(app):
    """The app's runtime (pools, registry, forwarder), started."""
    return app.extensions["mospay"].start()


@pytest.fixture(scope="module")
def base_url(app, rt):
    """The app served over real HTTP on loopback, threaded like production."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="module")
def admin_token(base_url):
    """Token of the seeded admin, after the forced password change."""
    token = requests.post(f"{base_url}/api/v1/admin/token", auth=("admin", "admin123")).json()["access_token"]
    changed = requests.post(f"{base_url}/api/v1/admin/password", headers={"Authorization": f"Bearer {token}"},
                            json={"current_password": "admin123", "new_password": ADMIN_PASSWORD})
    assert changed.status_code == 200, changed.text
    return requests.post(f"{base_url}/api/v1/admin/token", auth=("admin", ADMIN_PASSWORD)).json()["access_token"]


@pytest.fixture(scope="module")
def admin(base_url, admin_token):
    return Admin(base_url, admin_token)


@pytest.fixture(scope="session")
def _downstream_server():
    server = Downstream()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


@pytest.fixture
def downstream(_downstream_server):
    """The loopback provider, reset to answer SUCCESS."""
    _downstream_server.reset()
    return _downstream_server


@pytest.fixture
def integrator(base_url, admin, downstream):
    """A fresh client with a fresh generic_json service pointing at ``downstream``."""
    client = admin.create_client()
    service = admin.create_service(downstream.url + "/pay")
    admin.assign(client, service)
    return Integrator(base_url, client, service)


@pytest.fixture
def db(rt):
    """Run a query against the switch's database: ``db("SELECT …", params)`` → rows."""
    def query(text, params=None):
        with rt.db.connection() as conn:
            return conn.execute(text, params).fetchall()
    return query


@pytest.fixture(scope="module")
def two_instances(config):
    """Two `python app.py` instances (two server workers each) on the test database and routes directory."""
    processes = []
    try:
        for _ in range(2):
            env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, MOSPAY_WORKER=0, PORT=free_port(),
                            WEB_CONCURRENCY=2, MOSPAY_THREADS=16, MOSPAY_ROUTES_DIR=config.ROUTES_DIR,
                            MOSPAY_BCRYPT_ROUNDS=4)
            processes.append((start_app(env), env))
        yield [f"http://127.0.0.1:{env['PORT']}" for _, env in processes]
    finally:
        for process, _ in processes:
            stop_app(process)


CHROMIUM = os.environ.get("MOSPAY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def chromium_or_skip():
    """The system Chromium's path; outside CI a missing browser skips, in CI it fails."""
    if shutil.which(CHROMIUM) or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("CI"):
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs the Debian package chromium")
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); browser tests skipped outside CI")


def tool_or_skip(name):
    """The path of a Debian-packaged tool (haproxy, pgbouncer); outside CI a missing one skips, in CI it fails."""
    found = shutil.which(name) or next((p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)),
                                       None)
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail(f"{name} is missing in CI: .ci/run installs the Debian package {name}")
    pytest.skip(f"{name} is not installed (apt-get install {name}); skipped outside CI")


@pytest.fixture(scope="session")
def browser():
    """The system Chromium driven by Playwright (no browser download), one for the whole run."""
    executable = chromium_or_skip()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
