"""An attacker holding the serving role (mospay_app_<oid>) against the partition helpers and the event trigger.

Without pg_temp in a search_path, PostgreSQL looks in the session's temporary schema first: a temporary view named
pg_class or pg_proc would be read instead of the catalogue. The helpers of migration 0070 and every function of
schema mospay (migration 0072) search pg_temp last."""

import datetime as dt

import psycopg
import pytest

from gateway.follow_up import partitions

NOW = dt.datetime.now(dt.UTC)


def test_a_temporary_pg_class_cannot_make_the_current_partition_look_old(integrator, rt):
    partitions.ensure(rt, "transactions", NOW - dt.timedelta(days=30), NOW)
    message = integrator.message()
    assert integrator.pay(message).status_code == 200
    rows = [p for p in partitions.status(rt) if p["parent"] == "transactions" and not p["is_default"]]
    current = next(p["partition"] for p in rows if p["lower_bound"] <= NOW < p["upper_bound"])
    old = next(p["partition"] for p in rows if p["upper_bound"] < NOW - dt.timedelta(days=2))
    with rt.db.connection() as conn:
        assert conn.execute("SELECT current_user AS u").fetchone()["u"].startswith("mospay_app_")
        # The current partition shown with an old partition's bounds.
        conn.execute(f"""CREATE TEMP VIEW pg_class AS
            SELECT c.oid, c.relnamespace, c.relname,
                   CASE WHEN c.relname = '{current}'
                        THEN (SELECT o.relpartbound FROM pg_catalog.pg_class o WHERE o.relname = '{old}')
                        ELSE c.relpartbound END AS relpartbound
            FROM pg_catalog.pg_class c""")
        try:
            with pytest.raises(psycopg.errors.RaiseException, match="reaches into the last"):
                with conn.transaction():
                    conn.execute("SELECT mospay.drop_partition('transactions', %s, 1)", (current,))
        finally:
            conn.execute("DROP VIEW pg_temp.pg_class")

    assert current in {p["partition"] for p in partitions.status(rt)}
    assert integrator.pay(message).headers.get("Idempotent-Replayed") == "true"  # its payment is still there


def test_a_temporary_pg_proc_cannot_blind_the_security_definer_guard(rt):
    with rt.db.connection() as conn:
        # The app role may create temporary objects (since migration 0074, mospay_fn_owner may not): made before
        # the SET ROLE, the view is in the session's temporary schema all the same.
        conn.execute("CREATE TEMP VIEW pg_proc AS SELECT oid, false AS prosecdef FROM pg_catalog.pg_proc")
        conn.execute("SET ROLE mospay_fn_owner")
        try:
            with pytest.raises(psycopg.Error, match="SECURITY DEFINER functions are not allowed"):
                with conn.transaction():
                    conn.execute("CREATE FUNCTION mospay_fn.attack_definer() RETURNS int LANGUAGE sql "
                                 "SECURITY DEFINER AS 'SELECT 1'")
        finally:
            conn.execute("RESET ROLE")
            conn.execute("DROP VIEW pg_temp.pg_proc")
        assert conn.execute("SELECT count(*) AS n FROM pg_catalog.pg_proc WHERE proname = 'attack_definer'"
                            ).fetchone()["n"] == 0
