-- Reconciliation against a provider's statement (issue 14 §3).
--
-- * statement_mappings: per provider (microservice), which CSV columns hold the reference, amount, currency,
--   status and time, which of our keys the reference is (our transaction ref, the provider's reference or the
--   client's f010), and how the provider's status words read (e.g. "SUCCESSFUL" → SUCCESS). Editable.
-- * reconciliation_runs: one per statement file and provider (the file's SHA-256 makes a re-run idempotent),
--   with its figures.
-- * reconciliation_items: the discrepancies of a run (matched lines are only counted).

CREATE TABLE mospay.statement_mappings (
    microservice text PRIMARY KEY CHECK (microservice ~ '^[a-z][a-z0-9_]*$'),
    columns      jsonb NOT NULL,
    match_on     text NOT NULL DEFAULT 'ref' CHECK (match_on IN ('ref', 'provider_ref', 'unique_id')),
    statuses     jsonb NOT NULL DEFAULT '{}',
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mospay.reconciliation_runs (
    id           bigserial PRIMARY KEY,
    microservice text NOT NULL,
    file_sha256  text NOT NULL,
    file_name    text,
    period_from  date NOT NULL,
    period_to    date NOT NULL,
    mapping      jsonb NOT NULL,
    figures      jsonb NOT NULL DEFAULT '{}',
    duration_ms  numeric(12, 3),
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (microservice, file_sha256)
);
CREATE INDEX reconciliation_runs_created_idx ON mospay.reconciliation_runs (created_at);

CREATE TABLE mospay.reconciliation_items (
    id             bigserial PRIMARY KEY,
    run_id         bigint NOT NULL REFERENCES mospay.reconciliation_runs(id) ON DELETE CASCADE,
    kind           text NOT NULL CHECK (kind IN ('missing_at_provider', 'missing_at_switch', 'amount_mismatch',
                                                 'currency_mismatch', 'state_mismatch', 'duplicate', 'invalid_line')),
    line           integer,          -- the statement's line (its header is line 1); NULL: only the switch has it
    reference      text,
    transaction_id bigint REFERENCES mospay.transactions(id),
    our_status     text,
    their_status   text,
    our_amount     numeric,
    their_amount   numeric,
    our_currency   text,
    their_currency text,
    detail         text,
    resolution_id  bigint REFERENCES mospay.resolutions(id)
);
CREATE INDEX reconciliation_items_run_idx ON mospay.reconciliation_items (run_id, kind, id);
