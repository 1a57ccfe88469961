-- name: find_user
SELECT id, username, password_hash, role, must_change_password, password_version, active,
       totp_confirmed_at IS NOT NULL AS two_factor
FROM mospay.users
WHERE username = %(username)s

-- name: find_user_by_id
SELECT id, username, password_hash, role, must_change_password, password_version, active,
       totp_confirmed_at IS NOT NULL AS two_factor
FROM mospay.users
WHERE id = %(id)s

-- name: insert_user
INSERT INTO mospay.users (username, password_hash, role, must_change_password)
VALUES (%(username)s, %(password_hash)s, %(role)s, %(must_change_password)s)
ON CONFLICT (username) DO NOTHING
RETURNING id

-- name: change_user_password
UPDATE mospay.users
SET password_hash = %(password_hash)s, must_change_password = false,
    password_version = password_version + 1, updated_at = now()
WHERE id = %(id)s

-- name: count_users
SELECT count(*) AS n FROM mospay.users

-- name: list_users
SELECT id, username, role, must_change_password, active, created_at, totp_confirmed_at IS NOT NULL AS two_factor
FROM mospay.users
ORDER BY username

-- name: update_user
UPDATE mospay.users
SET role = coalesce(%(role)s, role), active = coalesce(%(active)s, active), updated_at = now()
WHERE username = %(username)s
RETURNING id, username, role, must_change_password, active, created_at

-- name: count_other_active_admins
SELECT count(*) AS n FROM mospay.users
WHERE role = 'admin' AND active AND username <> %(username)s
