-- Two-factor sign-in (gateway/admin/two_factor.py): the same steps on portal users and on client users.
-- A pending enrolment has a sealed secret and no totp_confirmed_at; a code's step is recorded with a
-- compare-and-set so a code is accepted once; a recovery code is spent by removing its hash (once).

-- name: totp_state_user
SELECT id, totp_secret_sealed, totp_confirmed_at, cardinality(recovery_hashes) AS recovery_left
FROM mospay.users WHERE id = %(id)s

-- name: totp_begin_user
UPDATE mospay.users SET totp_secret_sealed = %(sealed)s, updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NULL
RETURNING id

-- name: totp_confirm_user
UPDATE mospay.users
SET totp_confirmed_at = now(), totp_last_step = %(step)s, recovery_hashes = %(recovery_hashes)s, updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NULL AND totp_secret_sealed = %(sealed)s
RETURNING id

-- name: totp_use_step_user
UPDATE mospay.users SET totp_last_step = %(step)s
WHERE id = %(id)s AND totp_confirmed_at IS NOT NULL AND coalesce(totp_last_step, -1) < %(step)s
RETURNING id

-- name: totp_spend_recovery_user
UPDATE mospay.users SET recovery_hashes = array_remove(recovery_hashes, %(hash)s), updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NOT NULL AND %(hash)s = ANY (recovery_hashes)
RETURNING cardinality(recovery_hashes) AS recovery_left

-- name: totp_reset_user
UPDATE mospay.users
SET totp_secret_sealed = NULL, totp_confirmed_at = NULL, totp_last_step = NULL, recovery_hashes = '{}',
    updated_at = now()
WHERE id = %(id)s
RETURNING id

-- name: totp_state_client_user
SELECT id, totp_secret_sealed, totp_confirmed_at, cardinality(recovery_hashes) AS recovery_left
FROM mospay.client_users WHERE id = %(id)s

-- name: totp_begin_client_user
UPDATE mospay.client_users SET totp_secret_sealed = %(sealed)s, updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NULL
RETURNING id

-- name: totp_confirm_client_user
UPDATE mospay.client_users
SET totp_confirmed_at = now(), totp_last_step = %(step)s, recovery_hashes = %(recovery_hashes)s, updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NULL AND totp_secret_sealed = %(sealed)s
RETURNING id

-- name: totp_use_step_client_user
UPDATE mospay.client_users SET totp_last_step = %(step)s
WHERE id = %(id)s AND totp_confirmed_at IS NOT NULL AND coalesce(totp_last_step, -1) < %(step)s
RETURNING id

-- name: totp_spend_recovery_client_user
UPDATE mospay.client_users SET recovery_hashes = array_remove(recovery_hashes, %(hash)s), updated_at = now()
WHERE id = %(id)s AND totp_confirmed_at IS NOT NULL AND %(hash)s = ANY (recovery_hashes)
RETURNING cardinality(recovery_hashes) AS recovery_left

-- name: totp_reset_client_user
UPDATE mospay.client_users
SET totp_secret_sealed = NULL, totp_confirmed_at = NULL, totp_last_step = NULL, recovery_hashes = '{}',
    updated_at = now()
WHERE id = %(id)s
RETURNING id
