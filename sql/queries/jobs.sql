-- name: claim_jobs
-- Due jobs, each taken by one worker (SKIP LOCKED) and leased: a worker that dies gives them back.
UPDATE mospay.jobs
SET run_at = now() + make_interval(secs => %(lease_seconds)s), attempts = attempts + 1, updated_at = now()
WHERE id IN (
    SELECT id FROM mospay.jobs
    WHERE state = 'queued' AND run_at <= now()
    ORDER BY run_at, id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING id, kind, transaction_id, client_id, payload, attempts, created_at

-- name: finish_job
UPDATE mospay.jobs
SET state = %(state)s, run_at = now() + make_interval(secs => %(delay_seconds)s),
    last_status = %(last_status)s, last_error = %(last_error)s, payload = coalesce(%(payload)s, payload),
    updated_at = now(), completed_at = CASE WHEN %(state)s = 'queued' THEN NULL ELSE now() END
WHERE id = %(id)s

-- name: delivery_target
SELECT c.id, c.app_id, c.callback_url, c.callback_secret_sealed
FROM mospay.clients c
WHERE c.id = %(client_id)s

-- name: seal_first_callback_secret
-- A client created before callback secrets existed gets one on first use (an admin rotates it to see it).
UPDATE mospay.clients SET callback_secret_sealed = %(sealed)s, updated_at = now()
WHERE id = %(client_id)s AND callback_secret_sealed IS NULL
RETURNING callback_secret_sealed

-- name: resend_delivery
UPDATE mospay.jobs
SET state = 'queued', run_at = now(), attempts = 0, last_error = NULL, updated_at = now(), completed_at = NULL
WHERE id = %(id)s AND kind = 'client_callback'
RETURNING id, state

-- name: job_state
SELECT id, kind, state, attempts, last_status, last_error, payload FROM mospay.jobs WHERE id = %(id)s
