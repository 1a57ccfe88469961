-- A provider callback claiming SUCCESS on a route with a status query is confirmed by asking the provider
-- first; one the status query does not confirm changes nothing and is recorded as 'unconfirmed'.

ALTER TABLE mospay.provider_callbacks DROP CONSTRAINT IF EXISTS provider_callbacks_outcome_check;
ALTER TABLE mospay.provider_callbacks ADD CONSTRAINT provider_callbacks_outcome_check
    CHECK (outcome IN ('applied', 'ignored', 'unmatched', 'not_ready', 'unconfirmed', 'failed'));
