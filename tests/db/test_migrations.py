"""Migrations apply once, in order; a second start applies nothing."""

from gateway.db.migrations import available_migrations, migrate


def test_a_second_run_applies_nothing(rt):
    assert migrate(rt.config.DATABASE_URL) == []
    with rt.db.connection() as conn:
        applied = [r["version"] for r in conn.execute("SELECT version FROM mospay.schema_migrations ORDER BY 1")]
    assert applied == [version for version, _, _ in available_migrations()]
