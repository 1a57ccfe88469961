"""Client execution roles, and the one pool every client's functions run on (migration 0074).

Each client app has its own role (``mospay_t_<database oid>_<client id>``): NOINHERIT, no login, a
member of nothing, EXECUTE on its own functions only. Its functions are reached through its gate,
``mospay_gate.gate_<client id>``, a SECURITY DEFINER function that role owns. The pool logs in as the
function runner (``mospay_r_<database oid>``), which may only call the gates; inside one, PostgreSQL
refuses any change of role, so a function runs as its own client and nobody else. What it leaves in
the session is cleared in the same statement (``mospay_gate.end_call``); after a failed call, by
``end_call`` on its own or by closing the connection (``runner.call``): no state reaches the next
client's call. The runner's credentials come from ``bootstrap.function_url``.

One shared pool instead of one per client: 1,000 clients paying at once used to open a PostgreSQL
session per call once more than ``MOSPAY_TENANT_POOLS_MAX`` (64) client pools were wanted.
"""

import logging
from contextlib import contextmanager

from gateway.db import Database, Q
from gateway.errors import DatabaseUnavailable

log = logging.getLogger(__name__)


def provision(conn, client_id):
    """Create (or repair) the client's execution role and its gate; returns the role's name.

    The role no longer logs in (migration 0074): it gets no password.
    """
    return conn.execute(Q.ensure_tenant_role, {"client_id": client_id, "password": None,
                                               "password_sealed": None}).fetchone()["role"]


def provision_missing(conn):
    """Give every client without a working execution role or gate one (clients from before migration 0074)."""
    made = [provision(conn, row["id"]) for row in conn.execute(Q.clients_without_tenant_role).fetchall()]
    if made:
        log.info("created %d client execution roles", len(made))
    return made


class FunctionPool:
    """The shared pool client functions run on: opened with the runtime, connections made on first use."""

    def __init__(self, url, config, configure=None):
        self.pool = Database(url, 0, config.FUNCTION_POOL_MAX, config.DB_POOL_TIMEOUT, name="mospay-functions",
                             configure=configure, max_idle=config.FUNCTION_POOL_IDLE_SECONDS,
                             # A backend keeps every function it ran compiled (each client's, on a shared pool):
                             # sessions are renewed often enough that this memory stays bounded.
                             max_lifetime=config.FUNCTION_POOL_LIFETIME_SECONDS)
        self.pool.open()

    @contextmanager
    def connection(self, client):
        """A runner connection for a call of ``client``'s functions (a registry ``ClientEntry``)."""
        if client is None or not client.function_role:
            raise DatabaseUnavailable("The client has no execution role yet: restart the switch to create it.")
        with self.pool.connection() as conn:
            yield conn

    def stats(self):
        """The pool's stats (for the metrics page)."""
        return self.pool.pool.get_stats()

    def close(self):
        """Close the pool."""
        self.pool.close()
