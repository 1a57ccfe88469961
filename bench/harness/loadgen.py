"""Load generation: wrk driven by bench/payment.lua, and the figures the script writes at the end."""

import collections
import os
import subprocess

from .common import LUA


def wrk_env(prefix, body_head, body_tail, path, record, **extra):
    """The variables payment.lua reads: unique-id prefix, body around f010, path, whether to record refs."""
    return {"BENCH_PREFIX": prefix, "BENCH_BODY_HEAD": body_head, "BENCH_BODY_TAIL": body_tail,
            "BENCH_PATH": path, **extra, "BENCH_RECORD": "1" if record else "0"}


def run_wrk(url, concurrency, seconds, env_extra, out_path, threads, timeout_s=10):
    """Run wrk for ``seconds`` at ``concurrency`` connections; the parsed output of payment.lua."""
    env = dict(os.environ, BENCH_OUT=str(out_path), **env_extra)
    cmd = ["wrk", "-t", str(min(threads, concurrency)), "-c", str(concurrency), "-d", f"{int(seconds)}s",
           "--timeout", f"{timeout_s}s", "-s", str(LUA), url]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(out_path.read_text())


def parse_wrk(text):
    """payment.lua's output file: one ``key value…`` line per figure, accepted ref, overhead or sample."""
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
