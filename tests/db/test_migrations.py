"""Migrations apply once, in order; a second start applies nothing."""

import psycopg

from gateway.db.migrations import available_migrations, migrate


def test_a_second_run_applies_nothing(rt):
    assert migrate(rt.config.DATABASE_URL) == []
    with rt.db.connection() as conn:
        applied = [r["version"] for r in conn.execute("SELECT version FROM mospay.schema_migrations ORDER BY 1")]
    assert applied == [version for version, _, _ in available_migrations()]


def test_an_upgrade_applies_only_the_new_migration(rt, tmp_path):
    for _, _, path in available_migrations():
        (tmp_path / path.name).write_text(path.read_text())
    (tmp_path / "9999_upgrade_probe.sql").write_text("CREATE TABLE mospay.upgrade_probe (id int);")
    try:
        assert migrate(rt.config.DATABASE_URL, tmp_path) == [9999]
        assert migrate(rt.config.DATABASE_URL, tmp_path) == []
    finally:
        with psycopg.connect(rt.config.DATABASE_URL, autocommit=True) as conn:  # the owner: the app may not DROP
            conn.execute("DROP TABLE mospay.upgrade_probe")
            conn.execute("DELETE FROM mospay.schema_migrations WHERE version = 9999")
