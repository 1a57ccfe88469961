-- Provider credentials and tokens (issue 12 §2, §3), and the STATUS function of a route (§4).
--
-- * A service's credentials (client_service_id NULL), overridden name by name per client assignment,
--   sealed at rest (Fernet, MOSPAY_SEAL_KEYS); only names and times are ever read back out.
-- * The provider tokens the switch fetched, sealed, shared by every worker and instance; one caller at a time
--   refreshes a scope (an advisory lock on it), the others read its row.
-- * STATUS_<app_id>_<microservice>_<route>: the generated status-query function, versioned like the others.

CREATE TABLE mospay.provider_credentials (
    id                bigserial PRIMARY KEY,
    service_id        bigint NOT NULL REFERENCES mospay.services(id),
    client_service_id bigint REFERENCES mospay.client_services(id) ON DELETE CASCADE,
    name              text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,63}$'),
    value_sealed      text NOT NULL,
    updated_by        text NOT NULL,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX provider_credentials_service_name_idx ON mospay.provider_credentials (service_id, name)
    WHERE client_service_id IS NULL;
CREATE UNIQUE INDEX provider_credentials_route_name_idx ON mospay.provider_credentials (client_service_id, name)
    WHERE client_service_id IS NOT NULL;

CREATE TABLE mospay.provider_tokens (
    scope        text PRIMARY KEY,  -- hash of the token URL, the step and the credentials: never a secret
    token_sealed text NOT NULL,
    token_hash   text NOT NULL,      -- sha256 of the token, so a 401 invalidates exactly the token it refused
    refresh_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE mospay.client_services ADD COLUMN status_function text UNIQUE;

ALTER TABLE mospay.function_versions DROP CONSTRAINT IF EXISTS function_versions_kind_check;
ALTER TABLE mospay.function_versions ADD CONSTRAINT function_versions_kind_check
    CHECK (kind IN ('request', 'response', 'callback', 'status'));
