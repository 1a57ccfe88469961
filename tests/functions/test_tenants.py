"""Per-client execution roles and pools (``gateway/functions/tenants.py``)."""

import psycopg
import pytest
from psycopg import sql

from config import Config
from gateway import bootstrap
from tests.conftest import TEST_SETTINGS
from tests.factories import Integrator


@pytest.fixture(scope="module")
def config(database_url, tmp_path_factory):
    """At most two client pools open at once, to see the least recently used one closed."""
    return Config(DATABASE_URL=database_url, ROUTES_DIR=tmp_path_factory.mktemp("routes"),
                  **{**TEST_SETTINGS, "TENANT_POOLS_MAX": 2})


def _integrators(admin, base_url, downstream, n):
    service = admin.create_service(downstream.url + "/pay")
    integrators = []
    for _ in range(n):
        client = admin.create_client()
        admin.assign(client, service)
        integrators.append(Integrator(base_url, client, service))
    return integrators


def test_pools_open_on_first_use_and_the_least_recently_used_closes_past_the_cap(admin, base_url, downstream, rt):
    first, second, third = _integrators(admin, base_url, downstream, 3)
    rt.tenants.close()

    assert rt.tenants.stats() == {}
    for integrator in (first, second, third, first):
        assert integrator.pay().status_code == 200

    roles = {integrator.client["app_id"]: rt.registry.client(integrator.client["app_id"]).function_role
             for integrator in (first, second, third)}
    open_pools = set(rt.tenants.stats())
    assert open_pools == {f"mospay-{roles[third.client['app_id']]}", f"mospay-{roles[first.client['app_id']]}"}


def test_a_client_whose_role_is_missing_gets_it_back_at_start(admin, base_url, downstream, rt, config, db):
    (integrator,) = _integrators(admin, base_url, downstream, 1)
    role = rt.registry.client(integrator.client["app_id"]).function_role
    rt.tenants.close()
    with psycopg.connect(config.DATABASE_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))

    bootstrap.prepare_database(config)
    rt.registry.reload()

    assert db("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
    assert integrator.pay().status_code == 200
