-- name: claim_transaction
-- The unique constraint decides who owns (client, unique id); committed before forwarding.
INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request)
VALUES (%(client_id)s, %(client_service_id)s, %(unique_id)s, %(payload_hash)s, 'RECEIVED', %(request)s)
ON CONFLICT (client_id, unique_id) DO NOTHING
RETURNING id, ref::text AS ref

-- name: find_claimed_transaction
SELECT id, ref::text AS ref, payload_hash, status, answer, http_status
FROM mospay.transactions
WHERE client_id = %(client_id)s AND unique_id = %(unique_id)s

-- name: finish_transaction
-- Final state and the API log row in one statement: one round trip, one commit.
WITH finished AS (
    UPDATE mospay.transactions
    SET status = %(status)s, downstream_request = %(downstream_request)s,
        downstream_status = %(downstream_status)s, downstream_response = %(downstream_response)s,
        answer = %(answer)s, http_status = %(http_status)s, error_code = %(error_code)s,
        error_detail = %(error_detail)s, timings = %(timings)s, updated_at = now(), completed_at = now()
    WHERE id = %(transaction_id)s
    RETURNING id, client_id
)
INSERT INTO mospay.api_logs (transaction_id, client_id, method, path, http_status, error_code, duration_ms, remote_addr)
SELECT id, client_id, %(method)s, %(path)s, %(http_status)s, %(error_code)s, %(duration_ms)s, %(remote_addr)s
FROM finished

-- name: transaction_status
SELECT ref::text AS ref, unique_id, status, answer, http_status, created_at, updated_at, completed_at
FROM mospay.transactions
WHERE client_id = %(client_id)s AND unique_id = %(unique_id)s

-- name: insert_api_log
INSERT INTO mospay.api_logs (client_id, method, path, http_status, error_code, duration_ms, remote_addr)
VALUES (%(client_id)s, %(method)s, %(path)s, %(http_status)s, %(error_code)s, %(duration_ms)s, %(remote_addr)s)

-- name: stale_transactions
-- Accepted payments whose worker never finished them (killed, database lost).
SELECT t.id, t.ref::text AS ref, t.unique_id, t.request, t.client_service_id,
       c.app_id, s.microservice, s.service, s.route
FROM mospay.transactions t
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.status = 'RECEIVED' AND t.updated_at < now() - make_interval(secs => %(older_than)s)
ORDER BY t.id
LIMIT %(limit)s
FOR UPDATE OF t SKIP LOCKED

-- name: settle_transaction
UPDATE mospay.transactions
SET status = %(status)s, answer = %(answer)s, http_status = %(http_status)s, error_code = %(error_code)s,
    error_detail = %(error_detail)s, downstream_status = %(downstream_status)s,
    downstream_response = %(downstream_response)s, updated_at = now(), completed_at = now()
WHERE id = %(id)s AND status = 'RECEIVED'
