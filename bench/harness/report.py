"""Reporting: the printed table, the targets, bench/results/<date>.json and docs/performance.md's table."""

import json
import re
import subprocess

from .common import DOC, DOC_END, DOC_START, REPO, RESULTS_DIR, TARGETS, fmt, log


def publish(r, stamp, label, no_docs, failed_checks):
    """Print the table, save the results JSON, refresh the doc; the exit code (1: a payment lost or duplicated)."""
    r["targets"] = evaluate_targets(r)
    table = render_table(r)
    print("\n" + table + "\n", flush=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / (f"{stamp}-{label}.json" if label else f"{stamp}.json")
    path.write_text(json.dumps(r, indent=2, default=str) + "\n")
    log(f"results: {path.relative_to(REPO)}")
    if not no_docs:
        update_doc(table, path.relative_to(REPO))
        log(f"table written to {DOC.relative_to(REPO)}")
    lost, duplicated, accepted = correctness(r["steps"])
    print(f"correctness: lost={lost} duplicated={duplicated} ({accepted} accepted payments checked)", flush=True)
    return 1 if (lost or duplicated or failed_checks) else 0


def correctness(steps):
    """Payments lost, duplicated and accepted over all steps."""
    return (sum(s["check"]["lost"] for s in steps), sum(s["check"]["duplicated"] for s in steps),
            sum(s["check"]["accepted_2xx"] for s in steps))


def git_describe(path):
    """The switch checkout's short commit, noting uncommitted changes in the switch's own code."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=path, capture_output=True, text=True).stdout
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "gateway", "sql",
                                "app.py", "config.py"], cwd=path, capture_output=True, text=True).stdout
        return head.strip() + (" (+uncommitted changes in the switch)" if dirty.strip() else "")
    except OSError:
        return None


def worker_class(switch_dir):
    """The HTTP server and worker kind the switch runs: granian (gateway/serving.py) or gunicorn's worker class."""
    serving = switch_dir / "gateway" / "serving.py"
    if serving.exists() and "granian" in serving.read_text():
        return "granian RSGI, buffered"
    for name in ("gunicorn.conf.py", "app.py"):
        path = switch_dir / name
        if path.exists():
            match = re.search(r"worker_class[\"']?\s*[,=]\s*[\"'](\w+)", path.read_text())
            if match:
                return f"gunicorn {match.group(1)}"
    return None


def evaluate_targets(r):
    """Each speed target of TARGETS against the run's figures: measured value and met or not."""
    def step(auth, c):
        return next((s for s in r["steps"] if s["auth"] == auth and s["concurrency"] == c
                     and s["label"] == f"{auth} c{c}"), None)
    out = []
    for auth in ("basic", "jwt"):
        s32, s1 = step(auth, 32), step(auth, 1)
        if s32:
            db = r["floors"]["database"].get("32", {})
            if db.get("payments_per_s"):
                share = s32["payments_per_s"] / db["payments_per_s"]
                out.append({"target": f"{auth}: >= {TARGETS['db_floor_share']:.0%} of the database floor at c32",
                            "measured": round(share, 3), "met": share >= TARGETS["db_floor_share"]})
            cpu = s32["cpu_ms_per_payment"]["switch"]
            out.append({"target": f"{auth}: switch CPU <= {TARGETS['switch_cpu_ms']} ms per payment at c32 "
                                  f"(PostgreSQL: {s32['cpu_ms_per_payment']['postgres']} ms)",
                        "measured": cpu, "met": cpu <= TARGETS["switch_cpu_ms"]})
        if s1 and s1["overhead_ms"]["p50"] is not None:
            out.append({"target": f"{auth}: overhead p50 <= {TARGETS['ovh_p50_c1']} ms at c1",
                        "measured": s1["overhead_ms"]["p50"], "met": s1["overhead_ms"]["p50"] <= TARGETS["ovh_p50_c1"]})
            out.append({"target": f"{auth}: overhead p99 <= {TARGETS['ovh_p99_c1']} ms at c1",
                        "measured": s1["overhead_ms"]["p99"], "met": s1["overhead_ms"]["p99"] <= TARGETS["ovh_p99_c1"]})
        if auth != "basic" or not s32:
            continue
        for label, what in (("scaled c32", f"{r.get('scale', {}).get('clients')} clients and "
                                           f"{r.get('scale', {}).get('routes')} routes onboarded"),
                            ("paying c32", f"{r.get('scale', {}).get('paying')} clients paying at once")):
            other = next((s for s in r["steps"] if s["label"] == label), None)
            if other:
                change = other["latency_ms"]["p99"] / s32["latency_ms"]["p99"] - 1
                out.append({"target": f"p99 at c32 moves < {TARGETS['p99_move']:.0%} with {what}",
                            "measured": round(change, 3), "met": abs(change) < TARGETS["p99_move"]})
    return out


def _variant(label, r):
    """' (scaled)' for the steps after the scale-up, ' (N clients paying)' for the many-clients step."""
    if label.startswith("scaled"):
        return " (scaled)"
    if label.startswith("paying first"):
        return f" ({r.get('scale', {}).get('paying', 0):,} clients, their first payments)"
    return f" ({r.get('scale', {}).get('paying', 0):,} clients paying)" if label.startswith("paying") else ""


def render_table(r):
    """The run as Markdown: one row per step, the floors, the Server-Timing stages, profile, targets."""
    direct, database = r["floors"]["direct"], r["floors"]["database"]
    lines = [
        f"MosPay benchmark {r['date']} · {r['machine']['cpus']} CPUs · switch {r['git']} · "
        f"{r['workers']} {r.get('worker_class') or ''} workers × {r.get('threads') or '?'} threads · "
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
            f"| {s['auth'] + _variant(s['label'], r)} | {c} "
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
    lost, dup, accepted = correctness(r["steps"])
    lines += ["", f"Correctness: lost={lost} duplicated={dup} over {accepted} accepted payments "
                  f"({sum(s['check']['in_flight_at_stop'] for s in r['steps'])} more were in flight when a step "
                  f"stopped; each of those was also checked for exactly one downstream call)."]
    return "\n".join(lines)


def update_doc(table, results_path):
    """Replace the table between the bench markers of docs/performance.md (or add a "Latest run" section)."""
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
