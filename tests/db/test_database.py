"""The pool every service uses: idle connections handed out most recently used first."""

from gateway.db import Database


def test_the_most_recently_returned_connection_is_handed_out_first(database_url):
    """Round robin spread every client's function calls over every session, and each backend compiled every
    client's functions for itself; most recent first keeps the work on the fewest sessions."""
    database = Database(database_url, min_size=0, max_size=3)
    database.open()
    try:
        held = [database.pool.getconn() for _ in range(3)]
        pids = [conn.info.backend_pid for conn in held]
        for conn in held:  # returned in order: the last one back is the first one out
            database.pool.putconn(conn)
        again = [database.fetch_one("SELECT pg_backend_pid() AS pid")["pid"] for _ in range(5)]
    finally:
        database.close()
    assert len(set(pids)) == 3
    assert again == [pids[-1]] * 5  # one after another: always the same session, the others stay idle
