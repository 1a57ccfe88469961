-- Keyset pagination (issue 16): every list pages newest first on (created_at, id), with or without a
-- filter, so each filter gets an index whose order is the list's order. A page is then an index range
-- read from its cursor, whatever its depth; a filter never needs a sort of all matching rows.

-- Transactions: unfiltered and date range; by client; by route (the service filter); by state; by f010.
CREATE INDEX transactions_created_id_idx ON mospay.transactions (created_at, id);
DROP INDEX mospay.transactions_created_at_idx;  -- a prefix of the one above
CREATE INDEX transactions_client_created_idx ON mospay.transactions (client_id, created_at, id);
CREATE INDEX transactions_route_created_idx ON mospay.transactions (client_service_id, created_at, id);
CREATE INDEX transactions_status_created_idx ON mospay.transactions (status, created_at, id);
-- (client_id, unique_id) is unique already; the portal also finds an f010 without naming the client.
CREATE INDEX transactions_unique_id_idx ON mospay.transactions (unique_id);

-- API logs: unfiltered and date range; by client; by HTTP status; a payment's own rows (its page).
CREATE INDEX api_logs_created_id_idx ON mospay.api_logs (created_at, id);
DROP INDEX mospay.api_logs_created_at_idx;
CREATE INDEX api_logs_client_created_idx ON mospay.api_logs (client_id, created_at, id);
CREATE INDEX api_logs_status_created_idx ON mospay.api_logs (http_status, created_at, id);
CREATE INDEX api_logs_transaction_idx ON mospay.api_logs (transaction_id);

-- Audit log and the worker's jobs (callback deliveries, follow-ups), by kind and by kind and state.
CREATE INDEX audit_log_created_id_idx ON mospay.audit_log (created_at, id);
CREATE INDEX jobs_kind_created_id_idx ON mospay.jobs (kind, created_at, id);
DROP INDEX mospay.jobs_kind_created_idx;
CREATE INDEX jobs_kind_state_created_idx ON mospay.jobs (kind, state, created_at, id);
