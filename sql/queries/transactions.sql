-- name: claim_transaction
-- The key table's primary key decides who owns (client, unique id) across every partition (migration 0071): the
-- key and the row are written in this one statement, committed before forwarding, with the worker's lease
-- (recovery takes only expired ones). created_at comes back so later statements reach the row's one partition.
WITH claimed AS (
    INSERT INTO mospay.payment_keys (client_id, unique_id, transaction_id, created_at)
    VALUES (%(client_id)s, %(unique_id)s, nextval('mospay.transactions_id_seq'), now())
    ON CONFLICT DO NOTHING
    RETURNING transaction_id, created_at
)
INSERT INTO mospay.transactions (id, created_at, client_id, client_service_id, unique_id, payload_hash, status,
                                 request, currency, lease_owner, lease_expires_at)
SELECT transaction_id, created_at, %(client_id)s, %(client_service_id)s, %(unique_id)s, %(payload_hash)s,
       'RECEIVED', %(request)s, %(currency)s, %(lease_owner)s, now() + make_interval(secs => %(lease_seconds)s::float8)
FROM claimed
RETURNING id, ref::text AS ref, created_at

-- name: find_claimed_transaction
-- Through the key to (id, created_at): the row is read from its one partition.
SELECT t.id, t.ref::text AS ref, t.payload_hash, t.status, t.answer, t.http_status
FROM mospay.payment_keys k
JOIN mospay.transactions t ON t.id = k.transaction_id AND t.created_at = k.created_at
WHERE k.client_id = %(client_id)s AND k.unique_id = %(unique_id)s

-- name: settle_transaction
-- The one settlement statement (gateway/hot_path/settlement.py): compare-and-set from the expected states, and with it,
-- as asked, the API log row, the on_unknown follow-up job (%(job)s not null) and the client's signed callback
-- (%(notify)s, final states, clients with a callback_url). A NULL downstream value keeps what the row holds.
WITH settled AS (
    UPDATE mospay.transactions
    SET status = %(status)s, answer = %(answer)s, http_status = %(http_status)s, error_code = %(error_code)s,
        error_detail = %(error_detail)s,
        downstream_request = coalesce(%(downstream_request)s, downstream_request),
        downstream_status = coalesce(%(downstream_status)s, downstream_status),
        downstream_response = coalesce(%(downstream_response)s, downstream_response),
        timings = coalesce(%(timings)s, timings), provider_ref = coalesce(%(provider_ref)s, provider_ref),
        routing = coalesce(%(routing)s, routing),
        trace_id = coalesce(%(trace_id)s, trace_id),
        updated_at = now(), completed_at = now()
    WHERE id = %(id)s AND status = ANY(%(expected)s::text[])
      -- the row's partition when the caller knows its created_at (the hot path does), every one's index otherwise
      AND created_at BETWEEN coalesce(%(created_at)s::timestamptz, '-infinity')
                         AND coalesce(%(created_at)s::timestamptz, 'infinity')
    RETURNING id, client_id, ref::text AS ref, unique_id, status, answer, completed_at
), logged AS (
    INSERT INTO mospay.api_logs (transaction_id, client_id, method, path, http_status, error_code, duration_ms,
                                 remote_addr)
    SELECT id, client_id, %(log_method)s, %(log_path)s, %(http_status)s, %(error_code)s, %(log_duration_ms)s,
           %(log_remote_addr)s
    FROM settled
    WHERE %(log_method)s::text IS NOT NULL
), followed_up AS (
    INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload, state, run_at)
    SELECT 'unknown_outcome', id, client_id, %(job)s::jsonb, %(job_state)s::text,
           now() + make_interval(secs => %(job_delay)s::float8)
    FROM settled
    WHERE %(job)s::jsonb IS NOT NULL
), notified AS (
    INSERT INTO mospay.jobs (kind, transaction_id, client_id, payload)
    SELECT 'client_callback', s.id, s.client_id,
           jsonb_build_object('event', 'transaction.settled', 'transaction_ref', s.ref, 'unique_id', s.unique_id,
                              'status', s.status, 'code', s.answer -> 'code', 'message', s.answer -> 'message',
                              'data', coalesce(s.answer -> 'data', '{}'::jsonb), 'completed_at', s.completed_at)
    FROM settled s
    JOIN mospay.clients c ON c.id = s.client_id
    WHERE %(notify)s::boolean AND s.status = ANY(%(final)s::text[]) AND c.callback_url IS NOT NULL
)
SELECT id, client_id, ref, unique_id, status, answer, completed_at FROM settled

-- name: transaction_status
SELECT t.ref::text AS ref, t.unique_id, t.status, t.answer, t.http_status, t.created_at, t.updated_at, t.completed_at
FROM mospay.payment_keys k
JOIN mospay.transactions t ON t.id = k.transaction_id AND t.created_at = k.created_at
WHERE k.client_id = %(client_id)s AND k.unique_id = %(unique_id)s

-- name: insert_api_log
INSERT INTO mospay.api_logs (client_id, method, path, http_status, error_code, duration_ms, remote_addr)
VALUES (%(client_id)s, %(method)s, %(path)s, %(http_status)s, %(error_code)s, %(duration_ms)s, %(remote_addr)s)

-- name: move_to_route
-- Routing failed over before the next route's call goes out: from now on the payment is that route's (its
-- status query, recovery and page), even if the switch dies before it settles.
UPDATE mospay.transactions SET client_service_id = %(client_service_id)s
WHERE id = %(id)s AND created_at = %(created_at)s AND status = 'RECEIVED'

-- name: stale_transactions
-- Accepted payments whose worker never finished them (killed, database lost): their lease has expired.
SELECT t.id, t.created_at, t.ref::text AS ref, t.unique_id, t.request, t.client_service_id, t.provider_ref,
       c.app_id, s.microservice, s.service, s.route
FROM mospay.transactions t
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.status = 'RECEIVED' AND t.updated_at < now() - make_interval(secs => %(older_than)s)
  AND coalesce(t.lease_expires_at, t.updated_at) < now()
ORDER BY t.id
LIMIT %(limit)s
FOR UPDATE OF t SKIP LOCKED

-- name: lock_transaction_by_ref
-- A provider callback names the payment; only the route's own payments can be found, and each is locked.
SELECT id, created_at, ref::text AS ref, unique_id, status, client_id, request, provider_ref
FROM mospay.transactions
WHERE ref = %(value)s::uuid AND client_service_id = %(client_service_id)s
FOR UPDATE

-- name: lock_transaction_by_unique_id
SELECT t.id, t.created_at, t.ref::text AS ref, t.unique_id, t.status, t.client_id, t.request, t.provider_ref
FROM mospay.payment_keys k
JOIN mospay.transactions t ON t.id = k.transaction_id AND t.created_at = k.created_at
WHERE k.client_id = %(client_id)s AND k.unique_id = %(value)s AND t.client_service_id = %(client_service_id)s
FOR UPDATE OF t

-- name: lock_transaction_by_provider_ref
SELECT id, created_at, ref::text AS ref, unique_id, status, client_id, request, provider_ref
FROM mospay.transactions
WHERE client_service_id = %(client_service_id)s AND provider_ref = %(value)s
ORDER BY id DESC
LIMIT 1
FOR UPDATE

-- name: insert_provider_callback
INSERT INTO mospay.provider_callbacks
    (client_service_id, transaction_id, outcome, status_before, status_after, payload, result, detail)
VALUES (%(client_service_id)s, %(transaction_id)s, %(outcome)s, %(status_before)s, %(status_after)s,
        %(payload)s, %(result)s, %(detail)s)

-- name: insert_callback_api_log
INSERT INTO mospay.api_logs (transaction_id, client_id, method, path, http_status, error_code, duration_ms, remote_addr)
VALUES (%(transaction_id)s, %(client_id)s, %(method)s, %(path)s, %(http_status)s, %(error_code)s, %(duration_ms)s,
        %(remote_addr)s)

-- name: transaction_to_follow_up
SELECT t.id, t.created_at, t.ref::text AS ref, t.unique_id, t.status, t.request, t.answer, t.client_id,
       t.provider_ref, c.app_id, s.microservice, s.service, s.route
FROM mospay.transactions t
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.id = %(id)s

-- name: client_statement
-- One page of a client's own payments, newest first; the caller asks for one row more to know if more follow.
-- Paged on (created_at, id), the order of the portal's lists, so the client's index of the portal serves it
-- (migration 0042); the cursor still names only the last id seen, whose time is looked up here.
SELECT id, ref::text AS ref, unique_id, status, answer, http_status, created_at, completed_at
FROM mospay.transactions
WHERE client_id = %(client_id)s
  AND (%(before_id)s::bigint IS NULL
       OR (created_at, id) < (SELECT b.created_at, b.id FROM mospay.transactions b
                              WHERE b.id = %(before_id)s AND b.client_id = %(client_id)s))
  AND (%(date_from)s::timestamptz IS NULL OR created_at >= %(date_from)s)
  AND (%(date_to)s::timestamptz IS NULL OR created_at < %(date_to)s)
  AND (%(status)s::text IS NULL OR status = %(status)s)
ORDER BY created_at DESC, id DESC
LIMIT %(limit)s
