"""Paths, the benchmark client's constants, logging and small helpers every part uses."""

import socket
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent.parent
REPO = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
DOC = REPO / "docs" / "performance.md"
LUA = BENCH_DIR / "payment.lua"
NGINX_CONF = BENCH_DIR / "downstream" / "nginx.conf"
ASYNC_DOWNSTREAM = BENCH_DIR / "downstream" / "fixed_answer.py"
PAY_PATH = "/api/v1/payment/process"
APP_ID = "benchclient"
MICROSERVICE = "benchms"
FIELDS = [
    {"code": "f004", "name": "amount", "type": "amount", "required": True, "min": "1", "max": "1000000"},
    {"code": "f005", "name": "currency", "type": "currency"},
    {"code": "f006", "name": "msisdn", "type": "msisdn", "required": True},
    {"code": "f007", "name": "pin", "type": "secret"},
    {"code": "f009", "name": "narration", "type": "string", "max": "100"},
]
# Issue 13's targets, each a ratio or a per-payment figure measured within one run.
TARGETS = {"db_floor_share": 0.50, "switch_cpu_ms": 1.5, "ovh_p50_c1": 1.0, "ovh_p99_c1": 2.0, "p99_move": 0.10}
PAYING_CLIENTS = 1000  # the step where this many clients pay at once, each with its own credentials and route
PAYING_FIRST_SECONDS = 15  # their first payments (~4 each at ~250/s), reported apart from the steady state
DOC_START, DOC_END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port, timeout, process=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process {process.args[0]} exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def tail(path, lines=40):
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
