"""The per-app state: pool, route table, HTTP sessions, caches."""

from dataclasses import dataclass

from flask import current_app

from gateway.circuit import CircuitBoard
from gateway.db import Database, sandbox_url
from gateway.forwarder import Forwarder
from gateway.functions import runner
from gateway.rate_limits import AbuseLimits
from gateway.registry import Registry
from gateway.security.credential_cache import CredentialCache
from gateway.security.sealed import Sealer


@dataclass
class Runtime:
    """Everything a request needs besides the request itself."""

    config: object
    db: Database
    functions_db: Database  # logged in as the sandbox role: client functions run here
    registry: Registry
    forwarder: Forwarder
    credentials: CredentialCache
    limits: AbuseLimits
    sealer: Sealer  # opens the sealed callback signing secrets

    @classmethod
    def build(cls, config):
        """Wire the parts from ``config`` (the pool is not opened yet)."""
        db = Database(config.DATABASE_URL, config.DB_POOL_MIN, config.DB_POOL_MAX, config.DB_POOL_TIMEOUT)
        functions_db = Database(sandbox_url(config.DATABASE_URL, config.SANDBOX_PASSWORD), config.DB_POOL_MIN,
                                config.DB_POOL_MAX, config.DB_POOL_TIMEOUT, name="mospay-functions",
                                configure=runner.configure_connection(config.FUNCTION_TIMEOUT_MS))
        registry = Registry(db, config.PUBLIC_URL)
        credentials = CredentialCache(config.SECRET_KEY, config.CREDENTIAL_CACHE_SECONDS)
        forwarder = Forwarder(pool_size=max(config.THREADS, 4) * 2, max_body_bytes=config.MAX_UPSTREAM_BODY_BYTES,
                              circuits=CircuitBoard(config.CIRCUIT_THRESHOLD, config.CIRCUIT_COOLDOWN_SECONDS))
        limits = AbuseLimits(config.REDIS_URL or "memory://", config.CLIENT_RATE_LIMIT, config.AUTH_FAILURE_LIMIT)
        sealer = Sealer(config.SEAL_KEY or config.SECRET_KEY)
        return cls(config, db, functions_db, registry, forwarder, credentials, limits, sealer)


def runtime():
    """The running app's ``Runtime``."""
    return current_app.extensions["mospay"]
