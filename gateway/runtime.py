"""The per-app state: pool, route table, HTTP sessions, caches."""

from dataclasses import dataclass

from flask import current_app

from gateway.db import Database
from gateway.forwarder import Forwarder
from gateway.registry import Registry
from gateway.security.credential_cache import CredentialCache


@dataclass
class Runtime:
    """Everything a request needs besides the request itself."""

    config: object
    db: Database
    registry: Registry
    forwarder: Forwarder
    credentials: CredentialCache

    @classmethod
    def build(cls, config):
        """Wire the parts from ``config`` (the pool is not opened yet)."""
        db = Database(config.DATABASE_URL, config.DB_POOL_MIN, config.DB_POOL_MAX, config.DB_POOL_TIMEOUT)
        registry = Registry(db)
        credentials = CredentialCache(config.SECRET_KEY, config.CREDENTIAL_CACHE_SECONDS)
        forwarder = Forwarder(pool_size=max(config.THREADS, 4) * 2, max_body_bytes=config.MAX_UPSTREAM_BODY_BYTES)
        return cls(config, db, registry, forwarder, credentials)


def runtime():
    """The running app's ``Runtime``."""
    return current_app.extensions["mospay"]
