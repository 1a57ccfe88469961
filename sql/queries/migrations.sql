-- name: create_version_table
CREATE SCHEMA IF NOT EXISTS mospay;
CREATE TABLE IF NOT EXISTS mospay.schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)

-- name: applied_migrations
SELECT version FROM mospay.schema_migrations

-- name: record_migration
INSERT INTO mospay.schema_migrations (version, name) VALUES (%s, %s)

-- name: lock_migrations
SELECT pg_advisory_lock(%s)

-- name: unlock_migrations
SELECT pg_advisory_unlock(%s)

-- name: mark_migrating
-- For this migration's transaction only: the function guard (migration 0023) lets it create the switch's
-- own SECURITY DEFINER helpers in schema mospay; nothing else may create one anywhere.
SELECT set_config('mospay.migrating', 'on', true)
