"""Shared fixtures: a real PostgreSQL, the app on a real HTTP port, a real downstream.

The database is the embedded server (a fresh data directory per run), or
a fresh database on the server ``DATABASE_URL`` names, dropped afterwards.
"""

import os
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
from gateway import create_app
from tests.downstream import Downstream
from tests.factories import Admin, Integrator
from tests.servers import clean_env, free_port, start_app, stop_app

ADMIN_PASSWORD = "admin-test-password-1"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """A fresh, empty database for this test run."""
    server_url = os.environ.get("DATABASE_URL")
    if not server_url:
        from gateway.db.embedded import start_embedded
        yield start_embedded(tmp_path_factory.mktemp("data"))
        return
    name = f"mospay_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = psycopg.conninfo.make_conninfo(server_url, dbname=name)
    yield url
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def config(database_url, tmp_path_factory):
    return Config(
        DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"), DEMO=False,
        BCRYPT_ROUNDS=4, FUNCTION_TIMEOUT_MS=1000, REGISTRY_LISTEN=False, DB_POOL_MAX=24, THREADS=16,
    )


@pytest.fixture(scope="session")
def app(config):
    app = create_app(config)
    yield app
    app.extensions["mospay"].db.close()


@pytest.fixture(scope="session")
def rt(app):
    """The app's runtime (pool, registry, forwarder)."""
    return app.extensions["mospay"]


@pytest.fixture(scope="session")
def base_url(app):
    """The app served over real HTTP on loopback, threaded like production."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def admin_token(base_url):
    """Token of the seeded admin, after the forced password change."""
    token = requests.post(f"{base_url}/api/v1/admin/token", auth=("admin", "admin123")).json()["access_token"]
    changed = requests.post(f"{base_url}/api/v1/admin/password", headers={"Authorization": f"Bearer {token}"},
                            json={"current_password": "admin123", "new_password": ADMIN_PASSWORD})
    assert changed.status_code == 200, changed.text
    return requests.post(f"{base_url}/api/v1/admin/token", auth=("admin", ADMIN_PASSWORD)).json()["access_token"]


@pytest.fixture(scope="session")
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
    """Two `python app.py` instances (two gunicorn workers each) on the test database and routes directory."""
    processes = []
    try:
        for _ in range(2):
            env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, PORT=free_port(), WEB_CONCURRENCY=2,
                            MOSPAY_THREADS=16, MOSPAY_ROUTES_DIR=config.ROUTES_DIR,
                            MOSPAY_BCRYPT_ROUNDS=4)
            processes.append((start_app(env), env))
        yield [f"http://127.0.0.1:{env['PORT']}" for _, env in processes]
    finally:
        for process, _ in processes:
            stop_app(process)
