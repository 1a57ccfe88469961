-- Resolving payments by hand (gateway/follow_up/resolutions.py).

-- name: transaction_to_resolve
SELECT t.id, t.ref::text AS ref, t.unique_id, t.status, t.provider_ref, c.app_id,
       t.updated_at < now() - make_interval(mins => %(overdue_minutes)s) AS overdue
FROM mospay.transactions t
JOIN mospay.clients c ON c.id = t.client_id
WHERE t.ref = %(ref)s::uuid
FOR UPDATE OF t

-- name: insert_resolution
-- The partial unique index refuses a second open proposal for the same payment.
INSERT INTO mospay.resolutions (transaction_id, proposed_status, reason, evidence, proposed_by)
VALUES (%(transaction_id)s, %(status)s, %(reason)s, %(evidence)s, %(actor)s)
ON CONFLICT (transaction_id) WHERE state = 'open' DO NOTHING
RETURNING id

-- name: lock_resolution
SELECT r.id, r.transaction_id, r.proposed_status, r.reason, r.evidence, r.proposed_by, r.state,
       t.ref::text AS ref, t.unique_id, t.status AS transaction_status
FROM mospay.resolutions r
JOIN mospay.transactions t ON t.id = r.transaction_id
WHERE r.id = %(id)s
FOR UPDATE OF r

-- name: decide_resolution
UPDATE mospay.resolutions
SET state = %(state)s, decided_by = %(actor)s, decided_at = now(), decision_note = %(note)s
WHERE id = %(id)s AND state = 'open'
RETURNING id, state

-- name: list_resolutions
SELECT r.id, t.ref::text AS transaction_ref, t.unique_id, t.status AS transaction_status, c.app_id,
       r.proposed_status, r.reason, r.evidence, r.proposed_by, r.proposed_at, r.state, r.decided_by, r.decided_at,
       r.decision_note
FROM mospay.resolutions r
JOIN mospay.transactions t ON t.id = r.transaction_id
JOIN mospay.clients c ON c.id = t.client_id
WHERE (%(state)s::text IS NULL OR r.state = %(state)s)
ORDER BY r.id DESC
LIMIT %(limit)s

-- name: attention_counts
-- What an operator must look at: the portal's sidebar badge and the "Needs attention" page.
SELECT (SELECT count(*) FROM mospay.transactions WHERE status = 'UNKNOWN') AS unknown,
       (SELECT count(*) FROM mospay.transactions
        WHERE status = 'PENDING' AND updated_at < now() - make_interval(mins => %(overdue_minutes)s)) AS overdue_pending,
       (SELECT count(*) FROM mospay.jobs WHERE state = 'dead' AND kind = 'client_callback') AS dead_callbacks,
       (SELECT count(*) FROM mospay.resolutions WHERE state = 'open') AS open_proposals

-- name: attention_payments
-- UNKNOWN and overdue PENDING payments, oldest first, with their open proposal if any.
SELECT t.ref::text AS ref, t.unique_id, t.status, t.updated_at, t.provider_ref, t.answer ->> 'code' AS code,
       c.app_id, s.microservice || '/' || s.service || '/' || s.route AS service,
       r.id AS proposal_id, r.proposed_status, r.reason, r.proposed_by
FROM mospay.transactions t
JOIN mospay.clients c ON c.id = t.client_id
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.services s ON s.id = cs.service_id
LEFT JOIN mospay.resolutions r ON r.transaction_id = t.id AND r.state = 'open'
WHERE t.status IN ('UNKNOWN', 'PENDING')
  AND (t.status = 'UNKNOWN' OR t.updated_at < now() - make_interval(mins => %(overdue_minutes)s))
ORDER BY t.updated_at
LIMIT %(limit)s
