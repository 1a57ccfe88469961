-- The switch's database roles (migration 0023): what the owner reads and repairs at start.

-- name: lock_app_role
-- Instances starting together take turns making the app role (roles are cluster-wide catalog rows).
SELECT pg_advisory_xact_lock(7340003)

-- name: app_role
SELECT a.role, a.password_sealed, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = a.role) AS exists
FROM mospay.app_role a

-- name: ensure_app_role
-- Create (or repair) the app role with this password and grant it the switch's tables, again.
SELECT mospay.ensure_app_role(%(password)s, %(password_sealed)s) AS role

-- name: function_runner
-- The role client functions' pool logs in as (migration 0074), and its sealed password.
SELECT f.role, f.password_sealed, EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = f.role) AS exists
FROM mospay.function_runner f

-- name: ensure_function_runner
-- Create (or repair) the function runner with this password and grant it every client's gate, again.
SELECT mospay.ensure_function_runner(%(password)s, %(password_sealed)s) AS role

-- name: restrict_temporary
-- The database's TEMPORARY for the app role only, not for client roles (migration 0074); the owner, at every start.
SELECT mospay.restrict_temporary()
