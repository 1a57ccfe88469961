-- Row size (issue 16): one index fewer per payment. The integrator's statement now pages on (created_at, id)
-- with the client index of migration 0040, so its own (client_id, id) index of migration 0022 only cost
-- bytes and a write on every claim.
DROP INDEX mospay.transactions_client_statement_idx;
