"""The README's run command, as a newcomer runs it: `python app.py` on a fresh data directory."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = {"f000": "mtnmomorwa", "f001": "collection", "f002": "payment", "f003": "akaliza",
          "f004": "1500", "f005": "RWF", "f006": "250788123456", "f010": "readme-0001"}


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(env):
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{env['PORT']}/ready", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode())
    stop(process)
    raise AssertionError("app.py did not become ready in 60 s")


def stop(process):
    os.killpg(process.pid, 15)
    try:
        return process.communicate(timeout=20)[0].decode()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        return process.communicate()[0].decode()


@pytest.fixture
def fresh_env(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOSPAY_", "DATABASE_URL"))}
    env.update(MOSPAY_DATA_DIR=str(tmp_path / "instance"), MOSPAY_ROUTES_DIR=str(tmp_path / "routes"),
               PORT=str(free_port()), MOSPAY_SIMULATOR_PORT=str(free_port()), WEB_CONCURRENCY="1")
    return env


def test_the_readme_sample_request_succeeds_on_a_fresh_start_and_after_a_restart(fresh_env):
    url = f"http://127.0.0.1:{fresh_env['PORT']}/api/v1/payment/process"
    sample = {"auth": ("akaliza", "akaliza-demo-secret"), "headers": {"App-ID": "akaliza"}}

    process = start(fresh_env)
    try:
        first = requests.post(url, json=SAMPLE, timeout=10, **sample)
    finally:
        output = stop(process)
    assert first.status_code == 200, first.text + output
    assert first.json()["status"] == "SUCCESS"
    assert "Traceback" not in output

    process = start(fresh_env)  # second start: migrations and seed are no-ops
    try:
        replay = requests.post(url, json=SAMPLE, timeout=10, **sample)
        admin = requests.get(f"http://127.0.0.1:{fresh_env['PORT']}/api/v1/admin/clients", timeout=5,
                             headers={"Authorization": "Bearer " + requests.post(
                                 f"http://127.0.0.1:{fresh_env['PORT']}/api/v1/admin/token",
                                 auth=("admin", "admin123"), timeout=5).json()["access_token"]})
    finally:
        stop(process)
    assert replay.json() == first.json() and replay.headers["Idempotent-Replayed"] == "true"
    assert admin.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"


def test_production_mode_refuses_default_secrets(fresh_env):
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env={**fresh_env, "MOSPAY_ENV": "production"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
