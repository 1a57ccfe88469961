"""The whole run, in order: servers, onboarding, floors, switch steps, scale-up, profile, report."""

import atexit
import datetime
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

from .common import PAYING_CLIENTS, PAYING_FIRST_SECONDS, log
from .database import BenchDatabase
from .dbfloor import DatabaseFloor
from .meters import peak_rss_mib
from .onboarding import Client, paying_clients, scale_up
from .profiling import profile
from .report import git_describe, publish, worker_class
from .servers import Downstream, Processes, Switch
from .steps import Steps


class Bench:
    """One benchmark run with the options of ``bench/run.py``; ``run()`` returns the exit code."""

    def __init__(self, args):
        self.args = args
        self.switch_dir = Path(args.switch_dir).resolve()
        self.work = Path(tempfile.mkdtemp(prefix="mospay-bench-"))
        self.procs = Processes()
        self.db = BenchDatabase(self.work, self.switch_dir)
        self.results = {"steps": [], "floors": {"direct": {}, "database": {}}, "checks": []}

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
            self.downstream = Downstream().start(self.work, self.procs, a.asyncio_downstream)
            self.switch = Switch().start(self.switch_dir, self.work, self.db.url, self.procs)
            client = Client(self.switch.base).onboard(self.switch.admin_password, self.downstream.port)
            pg_cpu = self.db.cpu_meter()
            self.floor = DatabaseFloor(self.db, self.db_settings, self.switch_dir, self.work, pg_cpu, self.results)
            self.floor.prepare()
            self.steps = Steps(self.work, self.db, self.switch, self.downstream, client, pg_cpu,
                               self.floor.client_id, self.results, a.wrk_threads)
            for c in a.concurrency:
                self.floor.run(c, a.floor_seconds)
            for c in a.concurrency:
                self.steps.direct_floor(c, a.floor_seconds)
            for auth in a.auth:  # warm every worker: bcrypt verify, prepared statements, pools
                self.steps.switch_step(auth, max(a.concurrency), a.warmup, label=f"warmup/{auth}")
                self.results["steps"].pop()
            for auth in a.auth:
                for c in a.concurrency:
                    self.steps.switch_step(auth, c, a.seconds)
            if a.scale_clients:
                self.results["scale"] = scale_up(self.db, self.switch.base, self.downstream.port,
                                                 a.scale_clients, a.scale_routes)
                for c in (8, 32):
                    self.steps.switch_step("basic", c, a.seconds, label=f"scaled c{c}")
                many_file, paying = paying_clients(self.db, self.switch.base, self.work, PAYING_CLIENTS)
                self.results["scale"]["paying"] = paying
                # Each client's first payments on each worker (its credential check, its gate and functions
                # compiled on the backends): a row of their own, long enough for ~4 payments per client, so that
                # the measured step is the steady state of 1,000 clients paying.
                self.steps.switch_step("basic", 32, max(a.warmup, PAYING_FIRST_SECONDS), label="paying first c32",
                                       many_file=many_file)
                self.steps.switch_step("basic", 32, a.seconds, label="paying c32", many_file=many_file)
            self.results["peak_rss_mib_per_worker"] = peak_rss_mib(self.switch.workers)
            if a.profile:
                profile(self.steps, self.switch.process.pid, self.work, self.results, a.profile_seconds)
        finally:
            self.procs.stop_all()
            self.db.drop()
            if a.keep:
                log(f"kept {self.work}")
        return self.report()

    def report(self):
        """The run's setting figures added to the results, then the table, JSON and doc (``publish``)."""
        self.results.update({
            "date": self.stamp, "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                                            "python": platform.python_version()},
            "command": " ".join(["python", "bench/run.py", *sys.argv[1:]]),
            "git": git_describe(self.switch_dir), "postgres": {"embedded": self.db.embedded, **self.db_settings},
            "downstream": self.downstream.kind, "switch_env": self.switch.settings,
            "workers": len(self.switch.workers), "pgbench": self.floor.pgbench,
            "worker_class": worker_class(self.switch_dir),
            "threads": self.switch.settings.get("MOSPAY_THREADS") or "8 (default)",
            "step_seconds": self.args.seconds, "failed_checks": self.steps.failed_checks, "label": self.args.label,
        })
        return publish(self.results, self.stamp, self.args.label, self.args.no_docs, self.steps.failed_checks)
