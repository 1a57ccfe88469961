"""Measured steps: wrk at the switch (latency, overhead, CPU, RSS, and the lost/duplicated check) or at
the downstream alone (the direct floor). Each step's figures are appended to the run's results."""

import collections
import time

from .common import APP_ID, PAY_PATH, fmt, log, percentile
from .loadgen import run_wrk, wrk_env
from .meters import children_cpu, machine_busy, peak_rss_mib


class Steps:
    """The switch and direct-floor steps of one run, sharing its servers, client and results."""

    def __init__(self, work, db, switch, downstream, client, pg_cpu, client_id, results, wrk_threads):
        self.work, self.db, self.switch, self.downstream = work, db, switch, downstream
        self.client, self.pg_cpu, self.client_id = client, pg_cpu, client_id
        self.results, self.wrk_threads = results, wrk_threads
        self.failed_checks = 0
        self.step_no = 0

    def settle(self, prefix, timeout=30):
        """Wait until no transaction of this step is still RECEIVED (requests in flight when wrk stopped)."""
        deadline = time.monotonic() + timeout
        with self.db.connect() as conn:
            while True:
                # Every step's f010s share its own prefix, whichever clients paid (the many-clients step).
                open_ = conn.execute("SELECT count(*) FROM mospay.transactions WHERE unique_id LIKE %s "
                                     "AND status = 'RECEIVED'", (prefix + "%",)).fetchone()[0]
                if open_ == 0 or time.monotonic() > deadline:
                    return open_
                time.sleep(0.1)

    def switch_step(self, auth, concurrency, seconds, label=None, many_file=None):
        """wrk at the switch with a fresh f010 per request; the step's figures, also in results["steps"].
        ``many_file``: the requests go round many clients (``onboarding.paying_clients``) instead of one."""
        self.step_no += 1
        prefix = f"s{self.step_no}-{auth}-c{concurrency}-"
        authorization = self.client.authorization(auth)
        many = {"BENCH_MANY_FILE": str(many_file)} if many_file else {}
        self.downstream.access_log.new_lines()  # skip anything before this step
        pg_before, sw_before = self.pg_cpu.seconds(), self.switch.cpu_seconds()
        ds_before, wrk_before, busy_before = self.downstream.cpu.seconds(), children_cpu(), machine_busy()
        out = self.work / f"wrk-{self.step_no}.txt"
        wrk = run_wrk(self.switch.base + PAY_PATH, concurrency, seconds, wrk_env(
            prefix, self.client.body_head, self.client.body_tail, PAY_PATH, True,
            BENCH_APP_ID=APP_ID, BENCH_AUTHORIZATION=authorization, **many), out, self.wrk_threads)
        still_open = self.settle(prefix)
        pg_cpu, sw_cpu = self.pg_cpu.seconds() - pg_before, self.switch.cpu_seconds() - sw_before
        ds_cpu, wrk_cpu = self.downstream.cpu.seconds() - ds_before, children_cpu() - wrk_before
        busy = machine_busy() - busy_before
        time.sleep(0.05)
        check = self.check_step(prefix, wrk, still_open)
        step = step_figures(label or f"{auth} c{concurrency}", auth, concurrency, wrk, check,
                            {"switch": sw_cpu, "postgres": pg_cpu, "wrk": wrk_cpu, "downstream": ds_cpu, "busy": busy},
                            self.switch.workers)
        self.results["steps"].append(step)
        lat, ovh = step["latency_ms"], step["overhead_ms"]
        log(f"{step['label']:>10}: {step['payments_per_s']:7.1f} pay/s  p50 {lat['p50']:.2f} ms  "
            f"p99 {lat['p99']:.2f} ms  ovh p50 {fmt(ovh['p50'])} p99 {fmt(ovh['p99'])} ms  "
            f"cpu {step['cpu_ms_per_payment']['total']:.2f} ms/pay  "
            f"other procs {step['cpu_utilisation_cores']['other_processes']:.2f} cores  "
            f"non-2xx {sum(wrk['statuses'].values())}  "
            f"lost={check['lost']} duplicated={check['duplicated']}")
        return step

    def check_step(self, prefix, wrk, still_open):
        """Every 2xx: one transaction row, one downstream call; no transaction called twice."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT ref::text, status, unique_id FROM mospay.transactions "
                                "WHERE unique_id LIKE %s", (prefix + "%",)).fetchall()
        by_ref = {ref: status for ref, status, _ in rows}
        uid_dupes = len(rows) - len({uid for _, _, uid in rows})
        calls = collections.Counter(ref for path, _, ref in self.downstream.access_log.new_lines() if path == "/pay")
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
        """wrk straight at the downstream with the same request generator: what HTTP alone costs."""
        self.downstream.access_log.new_lines()
        out = self.work / f"wrk-direct-c{concurrency}.txt"
        wrk = run_wrk(f"http://127.0.0.1:{self.downstream.port}/direct", concurrency, seconds, wrk_env(
            f"direct-c{concurrency}-", self.client.body_head, self.client.body_tail, "/direct", False),
            out, self.wrk_threads)
        time.sleep(0.2)
        logged = sum(1 for path, _, _ in self.downstream.access_log.new_lines() if path == "/direct")
        ok = wrk["requests"] - wrk["errors"]["status"]
        floor = {"concurrency": concurrency, "requests_per_s": round(ok / wrk["duration_s"], 1),
                 "latency_ms": {p: us / 1000 for p, us in wrk["latency_us"].items()},
                 "downstream_logged": logged, "wrk_2xx": ok}
        self.results["floors"]["direct"][str(concurrency)] = floor
        log(f"direct floor c{concurrency}: {floor['requests_per_s']:.0f} req/s  p50 {floor['latency_ms']['50']:.3f} ms")


def step_figures(label, auth, concurrency, wrk, check, cpu, workers):
    """One switch step as results["steps"] records it; ``cpu``: CPU seconds per part during the step."""
    accepted = len(wrk["refs"])
    completed_rows = check["rows"]
    dur = wrk["duration_s"]
    sw_cpu, pg_cpu, wrk_cpu, ds_cpu = cpu["switch"], cpu["postgres"], cpu["wrk"], cpu["downstream"]
    stages = {name: round(total / count, 3) for name, (total, count) in wrk["stages"].items() if count}
    lat = {p: us / 1000 for p, us in wrk["latency_us"].items()}
    return {
        "label": label, "auth": auth, "concurrency": concurrency,
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
            "other_processes": round(max(0.0, cpu["busy"] - sw_cpu - pg_cpu - wrk_cpu - ds_cpu) / dur, 2)},
        "peak_rss_mib_per_worker": peak_rss_mib(workers),
        "check": check,
    }
