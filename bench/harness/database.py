"""The benchmark's PostgreSQL: the switch's embedded server, or a fresh database on DATABASE_URL's."""

import os
import secrets
import sys

import psutil
import psycopg
from psycopg import sql

from .common import log
from .meters import CpuMeter


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
        with self.connect() as conn:  # the backend's parent, asked while the backend still exists
            postmaster = psutil.Process(conn.execute("SELECT pg_backend_pid()").fetchone()[0]).ppid()
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
