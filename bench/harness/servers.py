"""The processes a run starts on loopback: the fixed-answer downstream and the switch (`python app.py`).

Every process is registered with ``Processes`` and stopped by pid at the end of the run.
"""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time

import psutil
import requests

from .common import ASYNC_DOWNSTREAM, NGINX_CONF, free_port, log, tail, wait_for_port
from .meters import CpuMeter


class Processes:
    """Everything this run started, stopped in reverse order at exit (by pid, never by name)."""

    def __init__(self):
        self.items = []

    def add(self, name, process, group=False):
        self.items.append((name, process, group))
        return process

    def stop_all(self):
        for _name, process, group in reversed(self.items):
            if process.poll() is not None:
                continue
            try:
                if group:
                    os.killpg(process.pid, signal.SIGTERM)
                else:
                    process.terminate()
                process.wait(timeout=20)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                try:
                    os.killpg(process.pid, signal.SIGKILL) if group else process.kill()
                except ProcessLookupError:
                    pass
        self.items.clear()


class AccessLog:
    """Reads the downstream's access log incrementally: (path, status, ref) per call."""

    def __init__(self, path):
        self.path = path
        self.offset = 0

    def new_lines(self):
        if not self.path.exists():
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        rows = []
        for line in data[:end].decode("utf-8", "replace").splitlines():
            parts = line.split(" ")
            if len(parts) >= 3:
                rows.append((parts[0], parts[1], parts[2]))
        return rows


class Downstream:
    """A fixed-answer downstream: nginx when installed (unless ``asyncio_only``), else the asyncio server.

    Its access log records each call's path, status and X-Transaction-Ref (``access_log``).
    """

    def start(self, work, procs, asyncio_only):
        self.port = free_port()
        access_log_path = work / "downstream" / "access.log"
        access_log_path.parent.mkdir(parents=True)
        nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                                if os.access(p, os.X_OK)), None)
        if nginx and not asyncio_only:
            prefix = access_log_path.parent
            for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (prefix / sub).mkdir()
            conf = prefix / "nginx.conf"
            conf.write_text(NGINX_CONF.read_text().format(
                port=self.port, access_log=access_log_path, error_log=prefix / "error.log",
                pid=prefix / "nginx.pid", prefix=prefix))
            process = subprocess.Popen([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
                                       stdout=subprocess.DEVNULL, stderr=open(prefix / "stderr.log", "wb"))
            self.kind = "nginx " + subprocess.run([nginx, "-v"], capture_output=True, text=True
                                                  ).stderr.strip().split("/")[-1]
        else:
            process = subprocess.Popen([sys.executable, str(ASYNC_DOWNSTREAM), "--port", str(self.port),
                                        "--access-log", str(access_log_path)])
            self.kind = "asyncio fallback (bench/downstream/fixed_answer.py)"
        procs.add("downstream", process)
        self.cpu = CpuMeter(process.pid)
        wait_for_port(self.port, 15, process)
        self.access_log = AccessLog(access_log_path)
        log(f"downstream: {self.kind} on 127.0.0.1:{self.port}")
        return self


class Switch:
    """The switch the production way: `python app.py` (granian) in its own process group."""

    SETTINGS = ("WEB_CONCURRENCY", "MOSPAY_THREADS", "MOSPAY_DB_POOL_MIN", "MOSPAY_DB_POOL_MAX",
                "MOSPAY_CLIENT_RATE_LIMIT", "REDIS_URL")

    def start(self, switch_dir, work, database_url, procs):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_password = "bench-initial-" + secrets.token_hex(8)
        env = dict(os.environ)
        self.secret_key = secrets.token_urlsafe(32)
        env.update({
            "HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": database_url,
            "MOSPAY_DATA_DIR": str(work / "data"), "MOSPAY_DEMO": "0",
            "MOSPAY_ROUTES_DIR": str(work / "routes"), "MOSPAY_ENV": "production",
            "SECRET_KEY": self.secret_key, "JWT_SECRET_KEY": secrets.token_urlsafe(32),
            "MOSPAY_ADMIN_PASSWORD": self.admin_password, "PYTHONUNBUFFERED": "1",
            # The harness onboards through the admin API with a password alone (no authenticator to enrol).
            "MOSPAY_REQUIRE_TOTP": "0",
        })
        # One client drives all the load: its abuse limit must not be what is measured.
        env.setdefault("MOSPAY_CLIENT_RATE_LIMIT", "1000000/second")
        self.log_path = work / "switch.log"
        process = subprocess.Popen([sys.executable, "app.py"], cwd=switch_dir, env=env,
                                   stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        procs.add("switch", process, group=True)
        self.process = process
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the switch exited ({process.returncode}):\n{tail(self.log_path)}")
            try:
                if requests.get(self.base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the switch did not answer /health:\n{tail(self.log_path)}")
            time.sleep(0.2)
        self.workers = self.worker_pids()
        self.settings = {k: env.get(k) for k in self.SETTINGS}
        log(f"switch: python app.py on {self.base}, server {process.pid}, workers {self.workers}")
        return self

    def worker_pids(self, expected=None):
        deadline = time.monotonic() + 30
        while True:
            pids = [c.pid for c in psutil.Process(self.process.pid).children()]
            if pids and (expected is None or len(pids) >= expected):
                return pids
            if time.monotonic() > deadline:
                return pids
            time.sleep(0.2)

    def cpu_seconds(self):
        return CpuMeter(self.process.pid).seconds()
