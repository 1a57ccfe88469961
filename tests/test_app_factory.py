"""The app factory is cheap, and `python app.py` runs the background work itself.

`create_app` only wires the app: no migration, no seed, no pool, no thread.
`flask --help` (through the real executable) therefore starts no database and
prints no traceback. `python app.py` runs the job worker and stale-payment
recovery in a child process it restarts if it dies.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from config import Config
from gateway import create_app
from tests.servers import ROOT, background_worker_pids, clean_env, free_port, start_app, stop_app

FLASK = Path(sys.executable).with_name("flask")


def flask(*args, env, timeout=30):
    command = [str(FLASK)] if FLASK.exists() else [sys.executable, "-m", "flask"]
    return subprocess.run([*command, "--app", "app", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_flask_help_starts_no_database_and_prints_no_traceback(tmp_path):
    env = clean_env(MOSPAY_DATA_DIR=tmp_path / "instance")
    started = time.monotonic()
    result = flask("--help", env=env)
    seconds = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert "db" in result.stdout and "seed-demo" in result.stdout and "worker" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert not (tmp_path / "instance" / "pg").exists(), "--help must not start the embedded server"
    assert seconds < 10, f"flask --help took {seconds:.1f} s"


def test_an_app_is_built_without_a_reachable_database():
    app = create_app(Config(DATABASE_URL="postgresql://nobody@127.0.0.1:1/nothing", REGISTRY_LISTEN=True))
    assert app.test_client().get("/health").status_code == 200
    assert not app.extensions["mospay"].started


def test_db_upgrade_and_uri_on_a_configured_database(database_url, tmp_path):
    env = clean_env(DATABASE_URL=database_url, MOSPAY_DATA_DIR=tmp_path / "instance")
    upgrade = flask("db", "upgrade", env=env)
    uri = flask("db", "uri", env=env)

    assert upgrade.returncode == 0 and "applied 0 migration(s)" in upgrade.stdout, upgrade.stderr
    assert uri.stdout.strip() == database_url


def wait_for(check, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("not within the time limit")


@pytest.fixture
def switch(config):
    """`python app.py` with its background worker, on this module's database."""
    env = clean_env(DATABASE_URL=config.DATABASE_URL, MOSPAY_DEMO=0, PORT=free_port(), WEB_CONCURRENCY=1,
                    MOSPAY_ROUTES_DIR=config.ROUTES_DIR, MOSPAY_BCRYPT_ROUNDS=4, MOSPAY_WORKER_POLL_SECONDS=0.2)
    process = start_app(env)
    yield process
    if process.returncode is None:
        stop_app(process)


def test_python_app_py_runs_queued_jobs_and_restarts_its_worker(integrator, db, switch):
    integrator.pay()
    # A client callback for a client without a callback URL: the worker's first run marks it dead.
    job = db("INSERT INTO mospay.jobs (kind, transaction_id, client_id) "
             "SELECT 'client_callback', t.id, t.client_id FROM mospay.transactions t "
             "JOIN mospay.clients c ON c.id = t.client_id WHERE c.app_id = %s RETURNING id",
             (integrator.client["app_id"],))[0]["id"]
    state = lambda: db("SELECT state FROM mospay.jobs WHERE id = %s", (job,))[0]["state"]  # noqa: E731

    wait_for(lambda: state() != "queued")
    assert state() == "dead"

    (first,) = wait_for(lambda: background_worker_pids(switch))
    os.kill(first, signal.SIGKILL)
    (second,) = wait_for(lambda: [pid for pid in background_worker_pids(switch) if pid != first])

    output = stop_app(switch)
    assert not Path(f"/proc/{second}").exists(), "the background worker must stop with the switch"
    assert "Traceback" not in output
