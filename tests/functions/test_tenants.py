"""Client execution roles and the one function pool (``gateway/functions/tenants.py``, migration 0074)."""

import psycopg
from psycopg import sql

from gateway import bootstrap
from tests.factories import Integrator


def _integrators(admin, base_url, downstream, n):
    service = admin.create_service(downstream.url + "/pay")
    integrators = []
    for _ in range(n):
        client = admin.create_client()
        admin.assign(client, service)
        integrators.append(Integrator(base_url, client, service))
    return integrators


def test_many_clients_share_one_small_pool_logged_in_as_the_runner(admin, base_url, downstream, rt, db):
    """Before, each client had a pool of its own: going round more clients than pools opened a session per call."""
    integrators = _integrators(admin, base_url, downstream, 6)
    rt.stop()  # a fresh runtime: its function pool opens on first use

    for _ in range(3):
        for integrator in integrators:
            assert integrator.pay().status_code == 200

    stats = rt.tenants.stats()
    assert 1 <= stats["pool_size"] <= 2, stats  # payments one at a time: one or two sessions, not one per client
    runner = db("SELECT role FROM mospay.function_runner")[0]["role"]
    logins = {row["usename"] for row in db("SELECT usename FROM pg_stat_activity WHERE datname = current_database() "
                                             "AND usename LIKE 'mospay\\_%%' AND usename NOT LIKE 'mospay\\_app\\_%%'")}
    assert logins == {runner}, logins  # no client role logs in


def test_a_client_whose_role_is_missing_gets_it_back_at_start(admin, base_url, downstream, rt, config, db):
    (integrator,) = _integrators(admin, base_url, downstream, 1)
    role = rt.registry.client(integrator.client["app_id"]).function_role
    with psycopg.connect(config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))  # its gate goes with it
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
    assert integrator.pay().status_code != 200  # its gate is gone: nothing is sent

    bootstrap.prepare_database(config)
    rt.registry.reload()

    assert db("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    assert integrator.pay().status_code == 200
