#!/usr/bin/env python3
"""MosPay at scale: months of history loaded, then every portal page and list API timed (issue 16).

    python bench/scale.py                  # 1,000,000 payments + 1,000,000 API log rows (a few minutes)
    python bench/scale.py --rows 10000000  # the issue's 10 M target (about an hour of loading on 2 cores)

On loopback, with the parts of bench/run.py (bench/harness/): PostgreSQL (embedded under a temp dir, or a fresh
database on DATABASE_URL's server, dropped afterwards), the switch the production way (`python app.py`), the
fixed-answer downstream and the benchmark client. Then:
1. payments/s at c=8 and c=32 on the empty database (wrk, the payment harness of bench/run.py), the median of three
   interleaved rounds, each step beside the database floor (pgbench running the switch's statements, as
   bench/run.py's), so that a machine busier in one phase than the other shows as such;
2. 200 clients with a route each, and --rows payments over 90 days (90% SUCCESS, 5% FAILED, 3% PENDING,
   2% UNKNOWN) with one API log row each, written by PostgreSQL with generate_series (bench/harness/history.py);
   the rollups folded in as the worker does;
3. every portal page and admin/client list API, first and deep pages (by cursor), each filter, the dashboard,
   one transaction and the settlement report: --runs timed requests each, median and max;
4. payments/s at c=8 and c=32 again (the same rounds and floors), on the loaded database; bytes per payment.
It prints the table and, last, `scale: rows=N worst_median_ms=X worst_max_ms=Y`.
"""

import argparse
import atexit
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from harness import history, pages, plans
from harness.common import APP_ID, RESULTS_DIR, log
from harness.database import BenchDatabase
from harness.dbfloor import DatabaseFloor
from harness.onboarding import Client, scale_up
from harness.servers import Downstream, Processes, Switch
from harness.steps import Steps

CLIENTS = 200


def payment_rates(steps, floor, seconds, label, rounds=3):
    """Payments per second at c=8 and c=32 (Basic auth, each check of bench/run.py included): the median of
    ``rounds`` interleaved steps, each beside the database floor at the same c (pgbench running the switch's own
    statements: what the machine could do at that moment, so that a busier machine shows as such)."""
    rates = {}
    for concurrency in (8, 32):
        rates[concurrency] = {"switch": [], "floor": []}
    for round_ in range(1, rounds + 1):
        for concurrency in (8, 32):
            step = steps.switch_step("basic", concurrency, seconds, label=f"{label} c{concurrency} #{round_}")
            rates[concurrency]["switch"].append(step["payments_per_s"])
            floor.run(concurrency, seconds)
            measured = floor.results["floors"]["database"][str(concurrency)]
            rates[concurrency]["floor"].append(measured["payments_per_s"])
    for samples in rates.values():
        samples["median"] = statistics.median(samples["switch"])
        samples["floor_median"] = statistics.median(samples["floor"])
    return rates


def fold_rollups(db):
    """Fold every loaded row into the rollups with the worker's own statement; returns the seconds it took."""
    sys.path.insert(0, str(db.switch_dir))
    from gateway.db import Q
    started = time.monotonic()
    with db.connect() as conn:
        while conn.execute(Q.fold_rollups, {"limit": 100_000, "claim_grace_seconds": 0}).fetchone()[0]:
            pass
        conn.execute("VACUUM ANALYZE mospay.transactions")
        conn.execute("VACUUM ANALYZE mospay.transaction_rollups")
    return time.monotonic() - started


def main():
    """Parse the options, run the whole benchmark, print the table and the summary line."""
    parser = argparse.ArgumentParser(description="MosPay at scale (see the module docstring).")
    parser.add_argument("--rows", type=int, default=1_000_000, help="payments to load (default 1,000,000)")
    parser.add_argument("--runs", type=int, default=5, help="timed requests per page (default 5)")
    parser.add_argument("--pay-seconds", type=int, default=5, help="length of each payment step (0: skip them)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    args = parser.parse_args()
    if args.pay_seconds and not shutil.which("wrk"):
        sys.exit("wrk is required for the payment steps: apt-get install -y wrk (or --pay-seconds 0)")
    work = Path(tempfile.mkdtemp(prefix="mospay-scale-"))
    if not args.keep:
        atexit.register(shutil.rmtree, work, ignore_errors=True)
    procs, db = Processes(), BenchDatabase(work, Path(__file__).resolve().parent.parent)
    results = {"rows": args.rows, "steps": [], "floors": {"direct": {}, "database": {}}}
    try:
        db.start()
        downstream = Downstream().start(work, procs, False)
        switch = Switch().start(db.switch_dir, work, db.url, procs)
        client = Client(switch.base).onboard(switch.admin_password, downstream.port)
        with db.connect() as conn:
            client_id = conn.execute("SELECT id FROM mospay.clients WHERE app_id = %s", (APP_ID,)).fetchone()[0]
        pg_cpu = db.cpu_meter()
        steps = Steps(work, db, switch, downstream, client, pg_cpu, client_id, results, 2)
        if args.pay_seconds:
            floor = DatabaseFloor(db, db.settings(), db.switch_dir, work, pg_cpu, results)
            floor.prepare()
            steps.switch_step("basic", 32, 3, label="warmup")
            results["pay_empty"] = payment_rates(steps, floor, args.pay_seconds, "empty")
        scale_up(db, switch.base, downstream.port, CLIENTS, CLIENTS)
        results["load_seconds"] = history.load(db, args.rows)
        results["fold_seconds"] = fold_rollups(db)
        log(f"rollups folded in {results['fold_seconds']:.1f} s")
        results["sizes"] = history.sizes(db)
        with db.connect() as conn:
            app_id, unique_id, ref = conn.execute(
                "SELECT c.app_id, t.unique_id, t.ref FROM mospay.transactions t JOIN mospay.clients c "
                "ON c.id = t.client_id WHERE t.unique_id = 'hist-1000'").fetchone()
            service = conn.execute("SELECT microservice || '/collection/payment' FROM mospay.services "
                                   "WHERE microservice LIKE 'scalems%%' ORDER BY id LIMIT 1").fetchone()[0]
        results["plans"] = plans.explain(db, app_id, service, unique_id, ref)
        results["pages"] = pages.time_pages(switch.base, client.admin_password, client.basic,
                                            pages.targets(db, args.rows), args.runs)
        if args.pay_seconds:
            results["pay_loaded"] = payment_rates(steps, floor, args.pay_seconds, "loaded")
    finally:
        procs.stop_all()
        db.drop()
    return report(results, args)


def report(results, args):
    """Print the table, the payment rates and sizes, save the JSON; the last line is the summary."""
    rows = results["pages"]
    print("\n" + pages.table(rows))
    if "pay_empty" in results:
        for c in (8, 32):
            empty, loaded = results["pay_empty"][c], results["pay_loaded"][c]
            change = 100 * (loaded["median"] - empty["median"]) / empty["median"]
            floor_change = 100 * (loaded["floor_median"] - empty["floor_median"]) / empty["floor_median"]
            print(f"payments/s c={c}: empty {empty['median']:.0f}, loaded {loaded['median']:.0f} ({change:+.1f}%); "
                  f"database floor beside them {empty['floor_median']:.0f} → {loaded['floor_median']:.0f} "
                  f"({floor_change:+.1f}%)")
    print("bytes per payment (table + indexes):", json.dumps(results["sizes"]["bytes_per_payment"]))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"scale-{time.strftime('%Y-%m-%d_%H%M%S')}-{args.rows}.json"
    out.write_text(json.dumps(results, indent=2, default=str))
    worst_median = max(r["median_ms"] for r in rows)
    worst_max = max(r["max_ms"] for r in rows)
    bad = [r["label"] for r in rows if r["status"] != 200]
    if bad:
        print("not 200:", ", ".join(bad))
    print(f"scale: rows={args.rows} worst_median_ms={worst_median:.1f} worst_max_ms={worst_max:.1f}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
