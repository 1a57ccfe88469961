"""``--profile``: py-spy on the switch's workers under load, flame graphs and hot-spot tables."""

import collections
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .common import REPO, RESULTS_DIR, log

# Inclusive share of these frames is what docs/performance.md's "where the time goes" reads.
KEY_FRAMES = [
    ("server: hand-off to a thread, WSGI call, collect", "BufferedWSGI._call ("),
    ("Flask app (request context, routing, view; not the payment's)", "Flask.wsgi_app ("),
    ("payment endpoint (DirectPaymentPath, ahead of Flask)", "DirectPaymentPath.__call__ ("),
    ("payment: authenticate, read, process", "run_payment ("),
    ("authenticate (Basic cache / JWT decode)", "authenticate_client ("),
    ("parse JSON body", "parse_json_request ("),
    ("validate + resolve route", "resolve ("),
    ("claim (INSERT … ON CONFLICT)", "PaymentProcessor._claim ("),
    ("request function (through the gate)", "RoutePipeline._prepare ("),
    ("function calls (gate + end_call, both)", "run (gateway/functions/runner.py"),
    ("forward (http.client → downstream)", "Forwarder.send ("),
    ("finish (UPDATE + api_logs INSERT)", "PaymentProcessor._finish ("),
    ("psycopg_pool getconn (incl. check ping)", "ConnectionPool.getconn ("),
    ("psycopg_pool check_connection ping", "ConnectionPool._check_connection ("),
    ("psycopg_pool putconn", "ConnectionPool.putconn ("),
    ("psycopg execute (all statements)", "Cursor.execute ("),
    ("psycopg waiting on the server", "Connection.wait ("),
    ("psycopg transaction blocks (BEGIN/COMMIT)", "Connection.transaction ("),
    ("masking/scrub", "Secrets.scrub ("),
    ("JSON schema validation", "validate_message ("),
]


def profile(steps, switch_pid, work, results, seconds):
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
        raw = work / f"profile-{mode}.raw"
        for fmt_, target in (("flamegraph", svg), ("raw", raw)):
            spy = subprocess.Popen([pyspy, "record", "--pid", str(switch_pid), "--subprocesses",
                                    "--rate", "250", "--duration", str(int(seconds) + 1), "--format", fmt_,
                                    "--output", str(target), "--nonblocking", *extra],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            time.sleep(0.5)
            step = steps.switch_step("basic", 32, seconds, label=f"profile/{mode}/{fmt_}")
            spy_out, _ = spy.communicate(timeout=seconds + 60)
            results["steps"].remove(step)
            out["steps_under_profiler"].append({k: step[k] for k in (
                "label", "payments_per_s", "latency_ms", "overhead_ms", "check")})
            if spy.returncode != 0:
                log(f"py-spy failed: {spy_out[-1500:]}")
                return
        out[mode] = {"flamegraph": str(svg.relative_to(REPO)), **hot_spots(raw)}
        log(f"profile ({mode}): {svg.relative_to(REPO)}, {out[mode]['samples']} samples")
        for row in out[mode]["key_frames"]:
            log(f"  {mode} {row['pct']:5.1f}%  {row['what']}")
    results["profile"] = out


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


def simplify_frame(frame):
    """A py-spy frame "function (path/to/module.py:123)" as "function (module.py)"; None for process/thread."""
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
