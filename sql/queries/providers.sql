-- name: load_provider_credentials
-- Every sealed provider credential: a service's own (client_service_id NULL) and the per-route overrides.
SELECT service_id, client_service_id, name, value_sealed
FROM mospay.provider_credentials

-- name: upsert_service_credential
INSERT INTO mospay.provider_credentials (service_id, name, value_sealed, updated_by)
VALUES (%(service_id)s, %(name)s, %(value_sealed)s, %(actor)s)
ON CONFLICT (service_id, name) WHERE client_service_id IS NULL
DO UPDATE SET value_sealed = excluded.value_sealed, updated_by = excluded.updated_by, updated_at = now()

-- name: upsert_route_credential
INSERT INTO mospay.provider_credentials (service_id, client_service_id, name, value_sealed, updated_by)
VALUES (%(service_id)s, %(client_service_id)s, %(name)s, %(value_sealed)s, %(actor)s)
ON CONFLICT (client_service_id, name) WHERE client_service_id IS NOT NULL
DO UPDATE SET value_sealed = excluded.value_sealed, updated_by = excluded.updated_by, updated_at = now()

-- name: delete_service_credential
DELETE FROM mospay.provider_credentials
WHERE service_id = %(service_id)s AND client_service_id IS NULL AND name = %(name)s

-- name: delete_route_credential
DELETE FROM mospay.provider_credentials WHERE client_service_id = %(client_service_id)s AND name = %(name)s

-- name: service_credential_names
-- Names and times only: a stored value never leaves the switch.
SELECT name, updated_by, updated_at FROM mospay.provider_credentials
WHERE service_id = %(service_id)s AND client_service_id IS NULL
ORDER BY name

-- name: route_credential_names
SELECT name, updated_by, updated_at FROM mospay.provider_credentials
WHERE client_service_id = %(client_service_id)s
ORDER BY name

-- name: all_sealed_credentials
-- For re-sealing under the newest key (flask credentials reseal).
SELECT id, value_sealed FROM mospay.provider_credentials ORDER BY id FOR UPDATE

-- name: reseal_credential
UPDATE mospay.provider_credentials SET value_sealed = %(value_sealed)s WHERE id = %(id)s

-- name: lock_token_scope
-- One refresher per scope across every worker and instance; released with the transaction.
SELECT pg_advisory_xact_lock(hashtextextended(%(scope)s, 12))

-- name: provider_token
SELECT token_sealed, token_hash, refresh_at, expires_at, refresh_at > now() AS fresh
FROM mospay.provider_tokens WHERE scope = %(scope)s

-- name: store_provider_token
INSERT INTO mospay.provider_tokens (scope, token_sealed, token_hash, refresh_at, expires_at)
VALUES (%(scope)s, %(token_sealed)s, %(token_hash)s, now() + make_interval(secs => %(refresh_seconds)s::float8),
        now() + make_interval(secs => %(lifetime_seconds)s::float8))
ON CONFLICT (scope) DO UPDATE SET token_sealed = excluded.token_sealed, token_hash = excluded.token_hash,
    refresh_at = excluded.refresh_at, expires_at = excluded.expires_at, updated_at = now()
RETURNING refresh_at

-- name: drop_provider_token
-- A provider refused this token (401): forget it, unless another caller already replaced it.
DELETE FROM mospay.provider_tokens WHERE scope = %(scope)s AND token_hash = %(token_hash)s

-- name: drop_all_provider_tokens
DELETE FROM mospay.provider_tokens

-- name: set_status_function
UPDATE mospay.client_services SET status_function = %(status_function)s, settings = settings || %(settings)s
WHERE id = %(id)s

-- name: drop_status_function
DROP FUNCTION IF EXISTS {schema}.{function}(jsonb, jsonb)
