"""The README's run command, as a newcomer runs it: `python app.py` on a fresh data directory."""

import subprocess
import sys
import time

import pytest
import requests

from tests.servers import ROOT, clean_env, free_port
from tests.servers import start_app as start
from tests.servers import stop_app as stop

SAMPLE = {"f000": "mtnmomorwa", "f001": "collection", "f002": "payment", "f003": "akaliza",
          "f004": "1500", "f005": "250788123456", "f010": "readme-0001"}


@pytest.fixture
def fresh_env(tmp_path):
    return clean_env(MOSPAY_DATA_DIR=tmp_path / "instance", MOSPAY_ROUTES_DIR=tmp_path / "routes",
                     PORT=free_port(), MOSPAY_SIMULATOR_PORT=free_port(), WEB_CONCURRENCY=1)


def test_the_readme_sample_request_succeeds_on_a_fresh_start_and_after_a_restart(fresh_env):
    url = f"http://127.0.0.1:{fresh_env['PORT']}/api/v1/payment/process"
    sample = {"auth": ("akaliza", "akaliza-demo-secret"), "headers": {"App-ID": "akaliza"}}

    status_url = f"http://127.0.0.1:{fresh_env['PORT']}/api/v1/payment/status/{SAMPLE['f010']}"
    process = start(fresh_env)
    try:
        first = requests.post(url, json=SAMPLE, timeout=10, **sample)
        # MTN's real protocol: 202 at once; the background worker's status query settles it (the README's
        # second curl).
        deadline, status = time.monotonic() + 20, None
        while time.monotonic() < deadline and (status is None or status["status"] == "PENDING"):
            time.sleep(0.5)
            status = requests.get(status_url, timeout=5, **sample).json()
    finally:
        output = stop(process)
    assert first.status_code == 202, first.text + output
    assert (first.json()["status"], first.json()["code"]) == ("PENDING", "ACCEPTED")
    assert status["status"] == "SUCCESS" and status["answer"]["data"]["financial_transaction_id"], output
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
    assert replay.json() == status["answer"] and replay.headers["Idempotent-Replayed"] == "true"
    assert admin.json()["error"]["code"] == "PASSWORD_CHANGE_REQUIRED"


def test_production_mode_refuses_default_secrets(fresh_env):
    result = subprocess.run([sys.executable, "app.py"], cwd=ROOT, env={**fresh_env, "MOSPAY_ENV": "production"},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr
