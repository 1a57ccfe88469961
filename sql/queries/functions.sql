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

-- name: enter_sandbox
SELECT set_config('role', %s, true), set_config('statement_timeout', %s, true)

-- name: call_request_function
SELECT {schema}.{function}(%s::jsonb, %s::jsonb) AS result

-- name: call_response_function
SELECT {schema}.{function}(%s::jsonb, %s::jsonb, %s::jsonb) AS result
