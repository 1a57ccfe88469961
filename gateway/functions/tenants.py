"""One execution role, and one small connection pool, per client app (issue 11 point 2).

Each client's functions run on connections that log in as that client's own role
(``mospay_t_<database oid>_<client id>``, migration 0010): NOINHERIT, a member of nothing,
EXECUTE on its own functions only. So a function can signal only its own client's
backends, cannot ``SET ROLE`` to another tenant, and no session state (temp tables,
``set_config``) ever reaches another tenant's call: connections are never shared.

Pools open lazily (no connection until the client's first call), shrink to nothing
when idle, and at most ``TENANT_POOLS_MAX`` stay open: the least recently used is
closed first, so 10,000 clients do not hold 10,000 connections.
"""

import logging
import secrets
import threading
from collections import OrderedDict
from contextlib import ExitStack, contextmanager

import psycopg
from psycopg_pool import PoolClosed

from gateway.db import Database, Q
from gateway.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


def provision(conn, sealer, client_id):
    """Create (or repair) the client's execution role with a new random password; returns its name.

    The password matters only where PostgreSQL asks for one (md5/scram); it is stored sealed.
    """
    password = secrets.token_urlsafe(32)
    return conn.execute(Q.ensure_tenant_role, {"client_id": client_id, "password": password,
                                               "password_sealed": sealer.seal(password)}).fetchone()["role"]


def provision_missing(conn, sealer):
    """Give every client without a working execution role one (clients from before migration 0010)."""
    made = [provision(conn, sealer, row["id"]) for row in conn.execute(Q.clients_without_tenant_role).fetchall()]
    if made:
        log.info("created %d client execution roles", len(made))
    return made


class TenantPools:
    """The per-client pools, created on first use and capped by an LRU."""

    def __init__(self, url, sealer, config, configure=None):
        self.url, self.sealer, self.config, self.configure = url, sealer, config, configure
        self._pools = OrderedDict()  # role → Database, least recently used first
        self._lock = threading.Lock()

    @contextmanager
    def connection(self, client):
        """A connection logged in as ``client``'s role (a registry ``ClientEntry``)."""
        if client is None or not client.function_role:
            raise DatabaseUnavailable("The client has no execution role yet: restart the switch to create it.")
        with ExitStack() as stack:
            try:
                conn = stack.enter_context(self._pool(client).connection())
            except PoolClosed:  # evicted between lookup and checkout: open it again
                conn = stack.enter_context(self._pool(client).connection())
            yield conn

    def _pool(self, client):
        role = client.function_role
        with self._lock:
            pool = self._pools.get(role)
            if pool is not None:
                self._pools.move_to_end(role)
                return pool
            password = self.sealer.open(client.function_role_password_sealed or "")
            config = self.config
            pool = Database(psycopg.conninfo.make_conninfo(self.url, user=role, password=password), 0,
                            config.TENANT_POOL_MAX, config.DB_POOL_TIMEOUT, name=f"mospay-{role}",
                            configure=self.configure, max_idle=config.TENANT_POOL_IDLE_SECONDS)
            pool.open()
            self._pools[role] = pool
            evicted = []
            while len(self._pools) > config.TENANT_POOLS_MAX:
                evicted.append(self._pools.popitem(last=False)[1])
        for old in evicted:  # connections still in use close when they are returned
            old.close()
        return pool

    def stats(self):
        """``{name: pool stats}`` of the open pools (for the metrics page)."""
        with self._lock:
            pools = list(self._pools.values())
        return {p.pool.name: p.pool.get_stats() for p in pools}

    def close(self):
        """Close every pool."""
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for pool in pools:
            pool.close()
