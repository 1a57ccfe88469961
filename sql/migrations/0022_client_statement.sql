-- An integrator's statement (GET /api/v1/payments) pages its own payments newest first by keyset on id.
CREATE INDEX transactions_client_statement_idx ON mospay.transactions (client_id, id);
