-- name: function_definition
SELECT pg_get_functiondef(p.oid) AS definition
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s AND p.proname = %(name)s

-- name: insert_function_version
INSERT INTO mospay.function_versions
    (client_service_id, function_name, kind, version, source, source_hash, created_by, note)
VALUES (
    %(client_service_id)s, %(function_name)s, %(kind)s,
    coalesce((SELECT max(version) FROM mospay.function_versions WHERE function_name = %(function_name)s), 0) + 1,
    %(source)s, %(source_hash)s, %(created_by)s, %(note)s
)
RETURNING version

-- name: set_function_timeout
SELECT set_config('statement_timeout', %s, false)

-- name: call_request_function
-- One statement, one round trip, on the shared pool (migration 0074): the client's gate runs the function as the
-- client's role; end_call then clears what the function left in the session and restores the timeout.
SELECT mospay_gate.end_call(mospay_gate.{gate}({function}, ARRAY[%s::jsonb, %s::jsonb]), %s) AS result

-- name: end_failed_call
-- After a call that failed (end_call did not run): what outlives its rolled-back transaction goes.
SELECT mospay_gate.end_call(NULL, %s)

-- name: call_response_function
SELECT mospay_gate.end_call(mospay_gate.{gate}({function}, ARRAY[%s::jsonb, %s::jsonb, %s::jsonb]), %s) AS result

-- name: call_callback_function
-- (payload, headers, context): a provider's notification
SELECT mospay_gate.end_call(mospay_gate.{gate}({function}, ARRAY[%s::jsonb, %s::jsonb, %s::jsonb]), %s) AS result

-- name: schema_function_definitions
SELECT p.oid::bigint AS oid, p.proname AS name, pg_get_functiondef(p.oid) AS definition
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = %(schema)s

-- name: function_signature
SELECT p.proname AS name, pg_get_function_identity_arguments(p.oid) AS arguments,
       format_type(p.prorettype, NULL) AS returns, p.prosecdef AS security_definer,
       l.lanname AS language, p.proretset AS returns_set
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
JOIN pg_language l ON l.oid = p.prolang
WHERE n.nspname = %(schema)s AND p.proname = %(name)s

-- name: list_functions
SELECT DISTINCT ON (v.function_name)
       v.function_name AS name, v.kind, v.version, v.source_hash, v.created_by, v.created_at,
       v.client_service_id, c.app_id, s.microservice, s.service, s.route, s.template
FROM mospay.function_versions v
JOIN mospay.client_services cs ON cs.id = v.client_service_id
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
ORDER BY v.function_name, v.version DESC

-- name: latest_function_version
SELECT v.function_name AS name, v.kind, v.version, v.source, v.source_hash, v.created_by, v.created_at,
       v.note, v.client_service_id, c.app_id, c.name AS client_name, s.microservice, s.service, s.route,
       s.url, s.method, s.timeout_ms, s.template, s.fields, cs.request_function, cs.response_function,
       cs.callback_function, cs.status_function
FROM mospay.function_versions v
JOIN mospay.client_services cs ON cs.id = v.client_service_id
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE v.function_name = %(name)s
ORDER BY v.version DESC
LIMIT 1

-- name: function_versions
SELECT version, source_hash, created_by, note, created_at
FROM mospay.function_versions
WHERE function_name = %(name)s
ORDER BY version DESC

-- name: function_version
SELECT version, source, source_hash, created_by, note, created_at
FROM mospay.function_versions
WHERE function_name = %(name)s AND version = %(version)s

-- name: lock_function
SELECT pg_advisory_xact_lock(hashtext(%(name)s))

-- name: service_settings_of_route
SELECT s.settings
FROM mospay.client_services cs
JOIN mospay.services s ON s.id = cs.service_id
WHERE cs.id = %(client_service_id)s

-- name: terminate_backend
-- The function watchdog ends a call that outlived its limit: only a client role's backend (migration 0023).
SELECT mospay.terminate_client_backend(%s) AS terminated

-- name: grant_client_function
-- After every CREATE [OR REPLACE] of a client function: EXECUTE for its client's role only (migration 0010).
SELECT mospay.grant_client_function(%(name)s, %(client_service_id)s)

-- name: become_function_owner
-- Client-function DDL runs as the function-owner role (migration 0012), inside a savepoint that undoes it.
SET LOCAL ROLE mospay_fn_owner

-- name: reset_role
RESET ROLE
