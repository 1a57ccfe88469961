-- Live updates of the portal's transactions page (gateway/admin/live.py): index lookups only.

-- name: live_cursor
SELECT coalesce(max(id), 0) AS id FROM mospay.transactions

-- name: live_transactions
-- Transactions newer than the cursor, and the current state of the ones a page shows.
SELECT t.id, t.ref::text AS ref, t.unique_id, t.status, t.http_status, t.error_code,
       t.answer ->> 'code' AS answer_code, c.app_id, s.microservice || '/' || s.service || '/' || s.route AS service
FROM mospay.transactions t
JOIN mospay.clients c ON c.id = t.client_id
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.id > %(after_id)s OR t.ref = ANY(%(refs)s::uuid[])
ORDER BY t.id
LIMIT 500
