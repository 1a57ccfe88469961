"""Starting `python app.py` as a real process (granian and all) for end-to-end and chaos tests."""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]


def free_port():
    """A TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_env(**settings):
    """The environment minus any MOSPAY_/DATABASE_URL of the developer's, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MOSPAY_", "DATABASE_URL"))}
    env.update({k: str(v) for k, v in settings.items()})
    return env


def start_app(env, timeout=60):
    """Start `python app.py` with ``env`` and wait until /ready answers 200."""
    process = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{env['PORT']}/ready", timeout=1).status_code == 200:
                return process
        except requests.RequestException:
            time.sleep(0.2)
        if process.poll() is not None:
            raise AssertionError(process.stdout.read().decode())
    stop_app(process)
    raise AssertionError(f"app.py did not become ready in {timeout} s")


def stop_app(process):
    """Stop the whole process group; returns what it printed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        return process.communicate(timeout=20)[0].decode()
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        return process.communicate()[0].decode()


def _cmdline(pid):
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def child_pids(process):
    """PIDs of the processes the app process started (from any of its threads)."""
    return [int(pid) for task in Path(f"/proc/{process.pid}/task").iterdir()
            for pid in (task / "children").read_text().split()]


def worker_pids(process):
    """PIDs of the server workers under the app process (forks of it: the same command line)."""
    return [pid for pid in child_pids(process) if _cmdline(pid) == _cmdline(process.pid)]


def background_worker_pids(process):
    """PIDs of the background worker (jobs and recovery) under the app process."""
    return [pid for pid in child_pids(process) if b"--background-worker" in _cmdline(pid)]


def wait_until_loaded(url, routes, timeout=5.0):
    """Until the instance's route table holds ``routes`` routes (as /ready reports)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if requests.get(f"{url}/ready", timeout=2).json()["checks"]["routes_loaded"] == routes:
            return
        time.sleep(0.05)
    raise AssertionError("the instance never loaded the new route")
