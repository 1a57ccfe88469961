-- Resolving a payment by hand, with four eyes.
--
-- An operator proposes a final state (SUCCESS or FAILED) for an UNKNOWN or overdue PENDING payment, with a
-- reason and evidence; a second admin approves (the payment settles through the one settlement statement)
-- or rejects it. One open proposal per payment at a time.

CREATE TABLE mospay.resolutions (
    id              bigserial PRIMARY KEY,
    transaction_id  bigint NOT NULL REFERENCES mospay.transactions(id),
    proposed_status text NOT NULL CHECK (proposed_status IN ('SUCCESS', 'FAILED')),
    reason          text NOT NULL,
    evidence        jsonb NOT NULL DEFAULT '{}',
    proposed_by     text NOT NULL,
    proposed_at     timestamptz NOT NULL DEFAULT now(),
    -- open: waiting for a second person · approved: the payment settled · rejected: it did not
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'approved', 'rejected')),
    decided_by      text,
    decided_at      timestamptz,
    decision_note   text
);
CREATE UNIQUE INDEX resolutions_one_open_idx ON mospay.resolutions (transaction_id) WHERE state = 'open';
CREATE INDEX resolutions_state_idx ON mospay.resolutions (state, id);

-- The "Needs attention" queue counts and lists these on every portal page: index lookups only.
CREATE INDEX transactions_attention_idx ON mospay.transactions (updated_at) WHERE status IN ('UNKNOWN', 'PENDING');
CREATE INDEX jobs_dead_idx ON mospay.jobs (id) WHERE state = 'dead';
