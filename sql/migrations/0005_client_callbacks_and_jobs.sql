-- Signed client callbacks and the worker's job queue.
--
-- * A client's callback signing secret is kept sealed: encrypted with a key
--   derived from MOSPAY_SEAL_KEY (default SECRET_KEY), never in clear.
-- * mospay.jobs is the worker's queue (claimed with FOR UPDATE SKIP LOCKED):
--   client callback deliveries and unknown-outcome follow-ups.

ALTER TABLE mospay.clients ADD COLUMN callback_secret_sealed text;

CREATE TABLE mospay.jobs (
    id             bigserial PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('client_callback', 'unknown_outcome')),
    transaction_id bigint NOT NULL REFERENCES mospay.transactions(id),
    client_id      bigint NOT NULL REFERENCES mospay.clients(id),
    payload        jsonb NOT NULL DEFAULT '{}',
    -- queued: waiting for run_at · done · dead: retries exhausted · manual: left for an operator
    state          text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'done', 'dead', 'manual')),
    attempts       integer NOT NULL DEFAULT 0,
    run_at         timestamptz NOT NULL DEFAULT now(),
    last_status    integer,
    last_error     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
CREATE INDEX jobs_due_idx ON mospay.jobs (run_at) WHERE state = 'queued';
CREATE INDEX jobs_kind_created_idx ON mospay.jobs (kind, created_at);
CREATE INDEX jobs_transaction_idx ON mospay.jobs (transaction_id);
