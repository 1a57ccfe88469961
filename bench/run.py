#!/usr/bin/env python3
"""MosPay benchmark: the whole payment pipeline under load, with its floors, in one run.

    python bench/run.py                 # ~2 minutes: floors + switch at c=1,8,32,64, Basic and JWT
    python bench/run.py --profile       # the same, then py-spy flame graph of the workers at c=32
    python bench/run.py --quick         # 3-second steps, c=8,32 only (a smoke run)

What it does, on loopback only, with free ports:
1. starts PostgreSQL (embedded under a fresh temp dir, or a fresh database on the
   server DATABASE_URL names, dropped afterwards) and the switch the production way
   (`python app.py`: granian workers × threads, as config.py and the environment say);
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

This file is the command line; the parts it composes live in bench/harness/, one module a job
(listed in bench/harness/__init__.py).
"""

import argparse
import shutil
import signal
import sys

from harness.bench import Bench
from harness.common import REPO


def main():
    """Parse the options, refuse a run of more than 3 minutes of load, run it and exit with its code."""
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
