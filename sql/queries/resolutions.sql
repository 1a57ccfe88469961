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
