"""The per-app state: pools, route table, HTTP sessions, caches.

Building it is cheap and touches no database: the pools open and the route
table loads on first use, or in ``start()``, which each server worker (as it
starts: ``gateway/serving.py``), the background worker and long-running ``flask``
commands call; ``start()`` also listens for route changes.
"""

import threading

from flask import current_app

from gateway import tracing
from gateway.db import Database, Q
from gateway.functions import runner
from gateway.functions.tenants import FunctionPool
from gateway.functions.watchdog import Watchdog
from gateway.hot_path.circuit import CircuitBoard
from gateway.hot_path.forwarder import Forwarder
from gateway.hot_path.provider_tokens import ProviderTokens
from gateway.hot_path.rate_limits import AbuseLimits
from gateway.hot_path.registry import Registry
from gateway.security.credential_cache import CredentialCache
from gateway.security.sealed import Sealer


class Runtime:
    """Everything a request needs besides the request itself."""

    def __init__(self, config):
        self.config = config
        self.forwarder = Forwarder(pool_size=max(config.THREADS, 4) * 2, max_body_bytes=config.MAX_UPSTREAM_BODY_BYTES,
                                   circuits=CircuitBoard(config.CIRCUIT_THRESHOLD, config.CIRCUIT_COOLDOWN_SECONDS))
        self.credentials = CredentialCache(config.SECRET_KEY, config.CREDENTIAL_CACHE_SECONDS)
        self.limits = AbuseLimits(config.REDIS_URL or "memory://", config.CLIENT_RATE_LIMIT, config.AUTH_FAILURE_LIMIT,
                                  key=config.SECRET_KEY, failure_limits={"portal": config.PORTAL_FAILURE_LIMIT})
        self.sealer = Sealer(config.seal_keys)  # opens sealed callback secrets and provider credentials
        self.provider_tokens = ProviderTokens()  # provider access tokens, shared with other workers through the table
        self.watchdog = Watchdog(self._terminate_backend)  # ends function calls that outlive their limit
        self._db = self._read_db = self._registry = self._tenants = None
        self._listening = False
        self._lock = threading.RLock()

    def _terminate_backend(self, pid):
        with self.db.connection() as conn:
            conn.execute(Q.terminate_backend, (pid,))

    @property
    def db(self):
        """The switch's pool (opened on first use)."""
        return self._db if self._db is not None else self.open()._db

    @property
    def read_db(self):
        """What pages, reports and exports read from: the ``DATABASE_READ_URL`` replica's pool, else ``db``.

        Never for the payment path or for anything that writes: a replica lags its primary.
        """
        if self._registry is None:
            self.open()
        return self._read_db or self._db

    @property
    def tenants(self):
        """The per-client pools, each logged in as its client's own role: client functions run here."""
        return self._tenants if self._tenants is not None else self.open()._tenants

    @property
    def registry(self):
        """The route table (loaded on first use)."""
        return self._registry if self._registry is not None else self.open()._registry

    @property
    def started(self):
        return self._registry is not None

    def open(self):
        """Open the pools and load the route table, once; the embedded server starts here if it must."""
        from gateway.bootstrap import function_url, read_url, serving_url  # late: bootstrap builds runtimes too

        with self._lock:
            if self._registry is not None:
                return self
            config = self.config
            db = Database(serving_url(config), config.DB_POOL_MIN, config.DB_POOL_MAX, config.DB_POOL_TIMEOUT)
            try:
                db.open()
                registry = Registry(db, config.PUBLIC_URL, self.sealer)
                registry.reload()
            except BaseException:
                db.close()
                raise
            read_db = None
            if config.DATABASE_READ_URL:
                read_db = Database(read_url(config), 1, config.DB_POOL_MAX, config.DB_POOL_TIMEOUT, name="mospay-read")
                read_db.open()
            try:
                self._tenants = FunctionPool(function_url(config, db, self.sealer), config,
                                             configure=runner.configure_connection(config.FUNCTION_TIMEOUT_MS))
            except BaseException:
                db.close()
                if read_db is not None:
                    read_db.close()
                raise
            self._db, self._read_db, self._registry = db, read_db, registry
        return self

    def start(self):
        """``open()``, then follow route changes (``MOSPAY_REGISTRY_LISTEN``): what a serving process calls."""
        with self._lock:
            self.open()
            tracing.configure(self.config)  # per serving process: the exporter's thread lives here
            if self.config.REGISTRY_LISTEN and not self._listening:
                self._registry.start_listening(self.config.REGISTRY_RELOAD_SECONDS)
                self._listening = True
        return self

    def stop(self):
        """Stop listening and close the pools; the next use opens them again."""
        with self._lock:
            if self._registry is None:
                return
            registry, db, read_db, tenants = self._registry, self._db, self._read_db, self._tenants
            self._db = self._read_db = self._registry = self._tenants = None
            self._listening = False
        registry.stop()
        tenants.close()
        db.close()
        if read_db is not None:
            read_db.close()


def runtime():
    """The running app's ``Runtime``."""
    return current_app.extensions["mospay"]
