"""The app role's SECURITY DEFINER helpers (migration 0023) must not trust ``clients.function_role``.

The app role may UPDATE ``mospay.clients`` (it serves the portal), so a compromised app role (an SQL
injection, a stolen APP_DATABASE_URL) can write any role name into a client's ``function_role``. The owner's
helpers then must still act on this database's own client roles only.
"""

import psycopg
import pytest
from psycopg import sql


@pytest.fixture
def hijacked(rt, admin):
    """A client row whose function_role the app role pointed elsewhere; restored afterwards."""
    client = admin.create_client()
    with rt.db.connection() as conn:
        row = conn.execute("SELECT id, function_role FROM mospay.clients WHERE app_id = %s",
                           (client["app_id"],)).fetchone()

    def point_at(role):
        with rt.db.connection() as conn:
            conn.execute("UPDATE mospay.clients SET function_role = %s WHERE id = %s", (role, row["id"]))

    yield row["id"], point_at
    point_at(row["function_role"])


def test_the_app_role_cannot_end_the_owners_backend_by_renaming_a_clients_role(rt, hijacked):
    client_id, point_at = hijacked
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:
        point_at(owner.info.user)
        with rt.db.connection() as conn:
            ended = conn.execute("SELECT mospay.terminate_client_backend(%s) AS ended",
                                 (owner.info.backend_pid,)).fetchone()["ended"]
        assert not ended
        assert owner.execute("SELECT 1").fetchone() == (1,)


def test_the_app_role_cannot_take_over_another_databases_client_role(rt, hijacked):
    client_id, point_at = hijacked
    other = "mospay_t_1_424242"  # a client role of another database on the same server (oid 1)
    with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as owner:
        owner.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(other)))
        owner.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD 'theirs'").format(sql.Identifier(other)))
        try:
            point_at(other)
            with rt.db.connection() as conn:
                role = conn.execute("SELECT mospay.ensure_tenant_role(%s, NULL, NULL) AS role",
                                    (client_id,)).fetchone()["role"]
            assert role != other and role.startswith("mospay_t_")
            # Not altered: ensure_tenant_role sets search_path and statement_timeout on the role it works on.
            assert owner.execute("SELECT rolconfig FROM pg_roles WHERE rolname = %s", (other,)).fetchone() == (None,)
        finally:
            point_at(None)
            owner.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(other)))
