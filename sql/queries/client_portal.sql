-- The integrators' portal (gateway/admin/client_users.py, gateway/admin/client_scope.py).
-- Every read of a client user's data names the client (client_id) the signed-in user belongs to.

-- name: insert_client_user
INSERT INTO mospay.client_users (client_id, email, invitation_hash, invitation_expires_at, invited_by)
SELECT c.id, %(email)s, %(invitation_hash)s, now() + make_interval(hours => %(hours)s), %(invited_by)s
FROM mospay.clients c WHERE c.app_id = %(app_id)s
ON CONFLICT (lower(email)) DO NOTHING
RETURNING id, email, invitation_expires_at

-- name: reinvite_client_user
-- A new link for someone of this client (the old link stops). For someone who had accepted, it is the password
-- reset: the password is cleared and its version moves on, so every session of theirs ends now.
UPDATE mospay.client_users u
SET invitation_hash = %(invitation_hash)s, invitation_expires_at = now() + make_interval(hours => %(hours)s),
    invited_by = %(invited_by)s, password_hash = NULL, password_version = u.password_version + 1,
    updated_at = now()
FROM mospay.clients c
WHERE c.id = u.client_id AND c.app_id = %(app_id)s AND lower(u.email) = lower(%(email)s)
RETURNING u.id, u.email, u.invitation_expires_at

-- name: list_client_users
SELECT u.id, u.email, u.active, u.password_hash IS NOT NULL AS accepted, u.invitation_expires_at,
       u.totp_confirmed_at IS NOT NULL AS two_factor, u.last_sign_in_at, u.invited_by, u.created_at
FROM mospay.client_users u JOIN mospay.clients c ON c.id = u.client_id
WHERE c.app_id = %(app_id)s
ORDER BY lower(u.email)

-- name: find_invitation
SELECT u.id, u.email, c.app_id, c.name AS client_name
FROM mospay.client_users u JOIN mospay.clients c ON c.id = u.client_id
WHERE u.invitation_hash = %(invitation_hash)s AND u.invitation_expires_at > now() AND u.active

-- name: accept_invitation
-- Single use: the hash is cleared in the same statement that sets the password.
UPDATE mospay.client_users
SET password_hash = %(password_hash)s, invitation_hash = NULL, invitation_expires_at = NULL,
    password_version = password_version + 1, updated_at = now()
WHERE invitation_hash = %(invitation_hash)s AND invitation_expires_at > now() AND active
RETURNING id

-- name: find_client_user_by_email
SELECT u.id, u.client_id, u.email, u.password_hash, u.password_version, u.active, c.app_id, c.name AS client_name,
       c.active AS client_active
FROM mospay.client_users u JOIN mospay.clients c ON c.id = u.client_id
WHERE lower(u.email) = lower(%(email)s)

-- name: find_client_user_by_id
SELECT u.id, u.client_id, u.email, u.password_hash, u.password_version, u.active, c.app_id, c.name AS client_name,
       c.active AS client_active
FROM mospay.client_users u JOIN mospay.clients c ON c.id = u.client_id
WHERE u.id = %(id)s

-- name: client_user_signed_in
UPDATE mospay.client_users SET last_sign_in_at = now() WHERE id = %(id)s

-- name: set_client_user_active
UPDATE mospay.client_users u SET active = %(active)s, updated_at = now()
FROM mospay.clients c
WHERE c.id = u.client_id AND c.app_id = %(app_id)s AND u.id = %(id)s
RETURNING u.id, u.email, u.active

-- name: client_credential_use
-- When the client's credential was last accepted (an authenticated call, from the API log) and when its
-- callback signing secret was last used (a delivery attempt).
SELECT (SELECT max(l.created_at) FROM mospay.api_logs l
        WHERE l.client_id = %(client_id)s AND l.http_status NOT IN (401, 429)) AS credential_last_used,
       (SELECT max(j.updated_at) FROM mospay.jobs j
        WHERE j.client_id = %(client_id)s AND j.kind = 'client_callback' AND j.attempts > 0) AS callback_last_used,
       c.updated_at AS credential_changed_at, c.callback_secret_sealed IS NOT NULL AS has_callback_secret
FROM mospay.clients c WHERE c.id = %(client_id)s

-- name: client_delivery_owner
SELECT j.id FROM mospay.jobs j WHERE j.id = %(id)s AND j.kind = 'client_callback' AND j.client_id = %(client_id)s
