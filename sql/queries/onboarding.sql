-- name: insert_client
INSERT INTO mospay.clients (app_id, name, username, password_hash, callback_url, callback_secret_sealed)
VALUES (%(app_id)s, %(name)s, %(username)s, %(password_hash)s, %(callback_url)s, %(callback_secret_sealed)s)
ON CONFLICT DO NOTHING
RETURNING id, app_id, name, username, callback_url, active, created_at

-- name: conflicting_client
-- Which existing client an insert_client that did nothing collided with: its name (unique whatever the
-- case, migration 0007) first, else its app_id, else its username.
SELECT app_id, name
FROM mospay.clients
WHERE app_id = %(app_id)s OR lower(name) = lower(%(name)s) OR username = %(username)s
ORDER BY lower(name) = lower(%(name)s) DESC, app_id = %(app_id)s DESC
LIMIT 1

-- name: list_clients
SELECT id, app_id, name, username, callback_url, active, credential_version, created_at, updated_at
FROM mospay.clients
ORDER BY app_id

-- name: get_client
SELECT id, app_id, name, username, callback_url, active, credential_version, created_at, updated_at
FROM mospay.clients
WHERE app_id = %(app_id)s

-- name: rotate_client_credentials
UPDATE mospay.clients
SET username = %(username)s, password_hash = %(password_hash)s,
    credential_version = credential_version + 1, updated_at = now()
WHERE app_id = %(app_id)s
RETURNING id, app_id, username, credential_version

-- name: set_client_callback_secret
UPDATE mospay.clients SET callback_secret_sealed = %(sealed)s, updated_at = now()
WHERE app_id = %(app_id)s
RETURNING id

-- name: set_client_callback_url
UPDATE mospay.clients SET callback_url = %(callback_url)s, updated_at = now()
WHERE app_id = %(app_id)s

-- name: set_client_active
UPDATE mospay.clients SET active = %(active)s, updated_at = now()
WHERE app_id = %(app_id)s
RETURNING id, app_id, active

-- name: insert_service
INSERT INTO mospay.services (microservice, service, route, url, method, timeout_ms, template, fields, settings)
VALUES (%(microservice)s, %(service)s, %(route)s, %(url)s, %(method)s, %(timeout_ms)s, %(template)s, %(fields)s,
        %(settings)s)
ON CONFLICT (microservice, service, route) DO NOTHING
RETURNING id, microservice, service, route, url, method, timeout_ms, template, fields, settings, created_at

-- name: list_services
SELECT id, microservice, service, route, url, method, timeout_ms, template, fields, created_at, updated_at
FROM mospay.services
ORDER BY microservice, service, route

-- name: find_service
SELECT id, microservice, service, route, url, method, timeout_ms, template, fields, settings
FROM mospay.services
WHERE microservice = %(microservice)s AND service = %(service)s AND route = %(route)s

-- name: insert_client_service
INSERT INTO mospay.client_services (client_id, service_id, request_function, response_function)
VALUES (%(client_id)s, %(service_id)s, %(request_function)s, %(response_function)s)
ON CONFLICT DO NOTHING
RETURNING id

-- name: set_callback_function
UPDATE mospay.client_services
SET callback_function = %(callback_function)s, callback_token_sealed = %(callback_token_sealed)s
WHERE id = %(id)s

-- name: client_services_of
SELECT cs.id, s.microservice, s.service, s.route, cs.request_function, cs.response_function, cs.enabled,
       cs.callback_function, s.settings -> 'callback' AS callback_settings
FROM mospay.client_services cs
JOIN mospay.services s ON s.id = cs.service_id
WHERE cs.client_id = %(client_id)s
ORDER BY s.microservice, s.service, s.route

-- name: insert_audit
INSERT INTO mospay.audit_log (actor, action, target, before, after)
VALUES (%(actor)s, %(action)s, %(target)s, %(before)s, %(after)s)

-- name: route_settings
SELECT cs.id, cs.enabled, cs.settings, cs.request_function, cs.response_function, cs.status_function,
       c.app_id, s.microservice, s.service, s.route, s.url, s.method, s.timeout_ms, s.fields
FROM mospay.client_services cs
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
ORDER BY c.app_id, s.microservice, s.service, s.route

-- name: update_route_settings
UPDATE mospay.client_services SET enabled = %(enabled)s, settings = %(settings)s, updated_at = now()
WHERE id = %(id)s

-- name: find_route
SELECT cs.id, cs.enabled, cs.settings, cs.request_function, cs.response_function, cs.callback_function,
       cs.status_function, c.app_id, s.id AS service_id, s.template, s.microservice, s.service, s.route, s.url,
       s.method, s.timeout_ms, s.fields
FROM mospay.client_services cs
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE c.app_id = %(app_id)s AND s.microservice = %(microservice)s
  AND s.service = %(service)s AND s.route = %(route)s
FOR UPDATE OF cs

-- name: set_route_enabled
UPDATE mospay.client_services SET enabled = %(enabled)s, updated_at = now()
WHERE id = %(id)s

-- name: update_service
UPDATE mospay.services
SET url = %(url)s, method = %(method)s, timeout_ms = %(timeout_ms)s, template = %(template)s,
    fields = %(fields)s, updated_at = now()
WHERE microservice = %(microservice)s AND service = %(service)s AND route = %(route)s
RETURNING id, microservice, service, route, url, method, timeout_ms, template, fields

-- name: routes_of_service
SELECT cs.id, cs.enabled, cs.settings, cs.request_function, cs.response_function, cs.status_function,
       c.app_id, s.microservice, s.service, s.route, s.url, s.method, s.timeout_ms, s.fields
FROM mospay.client_services cs
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE cs.service_id = %(service_id)s
ORDER BY c.app_id
FOR UPDATE OF cs

-- name: route_transaction_count
SELECT count(*) AS n FROM mospay.transactions WHERE client_service_id = %(id)s

-- name: delete_route_function_versions
DELETE FROM mospay.function_versions WHERE client_service_id = %(id)s

-- name: delete_client_service
DELETE FROM mospay.client_services WHERE id = %(id)s

-- name: drop_request_function
DROP FUNCTION IF EXISTS {schema}.{function}(jsonb, jsonb)

-- name: drop_response_function
DROP FUNCTION IF EXISTS {schema}.{function}(jsonb, jsonb, jsonb)

-- name: drop_callback_function
DROP FUNCTION IF EXISTS {schema}.{function}(jsonb, jsonb, jsonb)

-- name: ensure_tenant_role
-- The client's own execution role, created or repaired (migration 0010): see mospay.ensure_tenant_role.
SELECT mospay.ensure_tenant_role(%(client_id)s, %(password)s, %(password_sealed)s) AS role

-- name: clients_without_tenant_role
-- Clients whose execution role or gate is missing (created before migration 0074, or a restored dump on another
-- server).
SELECT c.id
FROM mospay.clients c
WHERE c.function_role IS NULL
   OR NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = c.function_role)
   OR NOT EXISTS (SELECT 1 FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
                  WHERE p.pronamespace = 'mospay_gate'::regnamespace AND p.proname = mospay.tenant_gate_name(c.id)
                    AND p.prosecdef AND r.rolname = c.function_role)
ORDER BY c.id
