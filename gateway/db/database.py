"""The connection pool and the one ``transaction()`` every service uses."""

import collections
import logging
from contextlib import contextmanager

import orjson
import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool, PoolTimeout

from gateway.db import direct
from gateway.errors import DatabaseUnavailable, from_database_error

log = logging.getLogger(__name__)

# Client functions live apart from the switch's tables; each client's run as its own role (migration 0010).
FUNCTION_SCHEMA = "mospay_fn"


set_json_dumps(direct.dumps_json)
set_json_loads(orjson.loads)


class _MostRecentFirst(collections.deque):
    """psycopg_pool's idle connections, the most recently returned handed out first."""

    def popleft(self):
        return self.pop()


def _most_recent_first(pool):
    # psycopg_pool takes idle connections from the left and returns them to the right: round robin over every
    # session. On the function pool that spread each client's calls over every backend, and each backend compiled
    # every client's gate and functions for itself. Most recent first keeps the work on the fewest sessions; the
    # others idle out (max_idle). 1,000 clients paying: +9–16% payments/s, −0.3 ms of PostgreSQL CPU per payment
    # (docs/performance.md). Only where the pool keeps its idle connections as this version does
    # (tests/db/test_database.py says if that changes).
    if type(getattr(pool, "_pool", None)) is collections.deque and not pool._pool:
        pool._pool = _MostRecentFirst()


class Database:
    """A psycopg 3 pool; connections are autocommit unless in ``transaction()``."""

    def __init__(self, url, min_size=2, max_size=16, timeout=5.0, name="mospay", configure=None, max_idle=600.0,
                 max_lifetime=3600.0):
        self.url = url
        self.pool = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            # No per-checkout health check: it would cost a round trip per query. A connection
            # that died (database restarted) fails once with DatabaseUnavailable and is discarded.
            kwargs={"autocommit": True, "row_factory": dict_row, "connect_timeout": 3},
            open=False,
            name=name,
            configure=configure,
            max_idle=max_idle,
            max_lifetime=max_lifetime,
        )
        _most_recent_first(self.pool)

    def open(self):
        """Open the pool; waits for the first connection so a wrong URL fails at start."""
        self.pool.open(wait=True, timeout=30)

    def close(self):
        """Close every connection."""
        self.pool.close()

    @contextmanager
    def connection(self):
        """A pooled autocommit connection; database outages become ``DatabaseUnavailable``."""
        try:
            with self.pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise DatabaseUnavailable() from exc
        except psycopg.OperationalError as exc:
            # Lost connection mid-query: the pool will discard it; tell the caller plainly.
            error = from_database_error(exc)
            if isinstance(error, DatabaseUnavailable):
                raise error from exc
            raise

    @contextmanager
    def transaction(self):
        """One database transaction: committed on success, rolled back on any error."""
        with self.connection() as conn, conn.transaction():
            yield conn

    def fetch_one(self, query, params=None):
        """Run ``query`` and return its first row (or ``None``)."""
        with self.connection() as conn:
            return conn.execute(query, params).fetchone()

    def fetch_all(self, query, params=None):
        """Run ``query`` and return every row."""
        with self.connection() as conn:
            return conn.execute(query, params).fetchall()


def fetch_one_across_a_move(conn, query, params):
    """Run a statement that locks or changes one row; when it finds none, run it once more and return that.

    Maintenance moves rows out of a DEFAULT partition (migration 0070) by deleting them there and inserting them
    into a new partition. A statement that waited for that move (READ COMMITTED, its plan made before the move's
    commit) sees the deletion and not the new partition: the row reads as missing. Run again, the statement gets a
    fresh snapshot and plan, and finds the row where it now is. Only an empty answer is retried: a found row, or
    an update's compare-and-set that really missed, decides as before.
    """
    row = direct.fetch_one(conn, query, params, prepare=True)
    if row is None:
        row = direct.fetch_one(conn, query, params, prepare=True)
    return row
