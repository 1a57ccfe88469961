-- Inbound provider callbacks.
--
-- * CALLBACK_<app_id>_<microservice>_<route> functions are versioned like the
--   request and response functions (kind 'callback').
-- * A transaction may carry the provider's own reference, so a provider's
--   notification that names only its reference finds the payment.
-- * Every notification the switch processed is recorded with what it did.

ALTER TABLE mospay.function_versions DROP CONSTRAINT IF EXISTS function_versions_kind_check;
ALTER TABLE mospay.function_versions ADD CONSTRAINT function_versions_kind_check
    CHECK (kind IN ('request', 'response', 'callback'));

ALTER TABLE mospay.client_services ADD COLUMN callback_function text UNIQUE;

ALTER TABLE mospay.transactions ADD COLUMN provider_ref text;
CREATE INDEX transactions_provider_ref_idx ON mospay.transactions (client_service_id, provider_ref)
    WHERE provider_ref IS NOT NULL;

-- Every provider notification the switch accepted for processing, and what it did with it.
CREATE TABLE mospay.provider_callbacks (
    id                bigserial PRIMARY KEY,
    client_service_id bigint NOT NULL REFERENCES mospay.client_services(id),
    transaction_id    bigint REFERENCES mospay.transactions(id),
    outcome           text NOT NULL CHECK (outcome IN ('applied', 'ignored', 'unmatched', 'not_ready', 'failed')),
    status_before     text,
    status_after      text,
    payload           jsonb,
    result            jsonb,
    detail            text,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX provider_callbacks_transaction_idx ON mospay.provider_callbacks (transaction_id);
