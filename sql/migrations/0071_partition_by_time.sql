-- Issue 16: transactions, api_logs, provider_callbacks and audit_log become range-partitioned on created_at, so
-- retention drops whole partitions (gateway/follow_up/partitions.py) instead of deleting rows.
--
-- Existing rows are not copied: each old table, if it holds rows, is ATTACHed whole as the parent's historic
-- partition <table>_history, FROM (MINVALUE) TO (the day after the newest row, at least tomorrow). Copying would
-- rewrite every row and every index (the whole database, hours at tens of millions of payments); attaching keeps
-- the heap and the indexes that match the parent's, and only builds the new primary key (id, created_at) and the
-- non-unique ref index. An empty old table (a new installation) is dropped instead, so its partitions follow the
-- grid from the first day. Each table also gets a DEFAULT partition: a payment is never refused because the worker
-- that makes partitions ahead was down.
--
-- A unique constraint on a partitioned table must hold the partition key, so at-most-once per (client, unique id)
-- moves to the non-partitioned mospay.payment_keys, filled here from every existing payment; the claim
-- (sql/queries/transactions.sql) writes the key and the row in one statement. A foreign key cannot reference a
-- partitioned table's id alone: the ones that referenced transactions(id) (api_logs, provider_callbacks, jobs,
-- resolutions, reconciliation_items) are dropped; their plain transaction_id indexes stay.

-- Nothing may claim, log or settle while the keys are copied and the tables change (a payment committed in between
-- would get no key): the upgrade takes the tables first, in one order. Stop every instance of the previous release
-- before this migration (docs/deployment.md, "Upgrades"): its claim names a constraint that is gone after it.
LOCK TABLE mospay.transactions, mospay.api_logs, mospay.provider_callbacks, mospay.audit_log, mospay.jobs,
    mospay.resolutions, mospay.reconciliation_items IN ACCESS EXCLUSIVE MODE;

CREATE TABLE mospay.payment_keys (
    client_id      bigint NOT NULL,
    unique_id      text NOT NULL,
    transaction_id bigint NOT NULL,
    created_at     timestamptz NOT NULL
);
INSERT INTO mospay.payment_keys (client_id, unique_id, transaction_id, created_at)
SELECT client_id, unique_id, id, created_at FROM mospay.transactions;
ALTER TABLE mospay.payment_keys ADD PRIMARY KEY (client_id, unique_id);
-- Keys are written in time order: a block range index finds the ones retention removes for a few kB.
CREATE INDEX payment_keys_created_brin ON mospay.payment_keys USING brin (created_at);

ALTER TABLE mospay.api_logs DROP CONSTRAINT api_logs_transaction_id_fkey;
ALTER TABLE mospay.provider_callbacks DROP CONSTRAINT provider_callbacks_transaction_id_fkey;
ALTER TABLE mospay.jobs DROP CONSTRAINT jobs_transaction_id_fkey;
ALTER TABLE mospay.resolutions DROP CONSTRAINT resolutions_transaction_id_fkey;
ALTER TABLE mospay.reconciliation_items DROP CONSTRAINT reconciliation_items_transaction_id_fkey;
CREATE INDEX IF NOT EXISTS resolutions_transaction_idx ON mospay.resolutions (transaction_id);
CREATE INDEX IF NOT EXISTS reconciliation_items_transaction_idx ON mospay.reconciliation_items (transaction_id);

-- Each old table steps aside as <table>_history: its primary key and unique constraints go (the parent's hold
-- created_at), its other indexes are renamed so the parent's take their names and, being equal, adopt them on ATTACH.
DO $$
DECLARE
    t text;
    item record;
BEGIN
    FOREACH t IN ARRAY ARRAY['transactions', 'api_logs', 'provider_callbacks', 'audit_log'] LOOP
        EXECUTE format('ALTER TABLE mospay.%I RENAME TO %I', t, t || '_history');
        FOR item IN SELECT conname FROM pg_constraint
                    WHERE conrelid = format('mospay.%I', t || '_history')::regclass AND contype IN ('p', 'u') LOOP
            EXECUTE format('ALTER TABLE mospay.%I DROP CONSTRAINT %I', t || '_history', item.conname);
        END LOOP;
        FOR item IN SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                    WHERE i.indrelid = format('mospay.%I', t || '_history')::regclass LOOP
            EXECUTE format('ALTER INDEX mospay.%I RENAME TO %I', item.relname, left(item.relname, 50) || '_history');
        END LOOP;
        EXECUTE format('ALTER SEQUENCE mospay.%I OWNED BY NONE', t || '_id_seq');
        EXECUTE format('CREATE TABLE mospay.%I (LIKE mospay.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS) '
                       'PARTITION BY RANGE (created_at)', t, t || '_history');
        EXECUTE format('ALTER SEQUENCE mospay.%I OWNED BY mospay.%I.id', t || '_id_seq', t);
        EXECUTE format('ALTER TABLE mospay.%I ADD PRIMARY KEY (id, created_at)', t);
    END LOOP;
END
$$;

-- The parents' foreign keys and indexes: the ones the old tables had (migrations 0001, 0004, 0040-0043), ref no
-- longer unique (a uuid from gen_random_uuid; the claim never looks it up), (client_id, unique_id) now in
-- payment_keys.
ALTER TABLE mospay.transactions ADD FOREIGN KEY (client_id) REFERENCES mospay.clients(id),
    ADD FOREIGN KEY (client_service_id) REFERENCES mospay.client_services(id);
CREATE INDEX transactions_ref_idx ON mospay.transactions (ref);
CREATE INDEX transactions_created_id_idx ON mospay.transactions (created_at, id);
CREATE INDEX transactions_client_created_idx ON mospay.transactions (client_id, created_at, id);
CREATE INDEX transactions_route_created_idx ON mospay.transactions (client_service_id, created_at, id);
CREATE INDEX transactions_status_created_idx ON mospay.transactions (status, created_at, id);
CREATE INDEX transactions_unique_id_idx ON mospay.transactions (unique_id);
CREATE INDEX transactions_open_idx ON mospay.transactions (updated_at) WHERE status = 'RECEIVED';
CREATE INDEX transactions_attention_idx ON mospay.transactions (updated_at) INCLUDE (status)
    WHERE status IN ('UNKNOWN', 'PENDING');
CREATE INDEX transactions_provider_ref_idx ON mospay.transactions (client_service_id, provider_ref)
    WHERE provider_ref IS NOT NULL;
CREATE INDEX transactions_unrolled_idx ON mospay.transactions (id) WHERE rolled_status IS DISTINCT FROM status;

ALTER TABLE mospay.api_logs ADD FOREIGN KEY (client_id) REFERENCES mospay.clients(id);
CREATE INDEX api_logs_created_id_idx ON mospay.api_logs (created_at, id);
CREATE INDEX api_logs_client_created_idx ON mospay.api_logs (client_id, created_at, id);
CREATE INDEX api_logs_status_created_idx ON mospay.api_logs (http_status, created_at, id);
CREATE INDEX api_logs_transaction_idx ON mospay.api_logs (transaction_id);

ALTER TABLE mospay.provider_callbacks ADD FOREIGN KEY (client_service_id) REFERENCES mospay.client_services(id);
CREATE INDEX provider_callbacks_transaction_idx ON mospay.provider_callbacks (transaction_id);

CREATE INDEX audit_log_created_id_idx ON mospay.audit_log (created_at, id);

-- The history joins as one partition (or goes, empty); then the DEFAULT partition and two weeks ahead on the weekly
-- grid (the worker's maintenance follows MOSPAY_PARTITION_DAYS from then on).
DO $$
DECLARE
    t text;
    newest timestamptz;
    bound timestamptz;
BEGIN
    FOREACH t IN ARRAY ARRAY['transactions', 'api_logs', 'provider_callbacks', 'audit_log'] LOOP
        EXECUTE format('SELECT max(created_at) FROM mospay.%I', t || '_history') INTO newest;
        IF newest IS NULL THEN
            EXECUTE format('DROP TABLE mospay.%I', t || '_history');
        ELSE
            bound := date_trunc('day', greatest(newest, now()), 'UTC') + interval '1 day';
            EXECUTE format('ALTER TABLE mospay.%I ATTACH PARTITION mospay.%I FOR VALUES FROM (MINVALUE) TO (%L)',
                           t, t || '_history', bound);
        END IF;
        EXECUTE format('CREATE TABLE mospay.%I PARTITION OF mospay.%I DEFAULT', t || '_default', t);
        PERFORM mospay.ensure_partitions(t, now(), now() + interval '14 days', 7);
    END LOOP;
END
$$;
