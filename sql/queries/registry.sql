-- name: load_clients
SELECT id, app_id, name, username, password_hash, credential_version, active, function_role
FROM mospay.clients

-- name: load_routes
-- fingerprint: every column selected here, which is all a route's entry is built from; a reload rebuilds only the
-- entries whose changed (a column added to the inner list is in it at once).
SELECT md5(r::text) AS fingerprint, r.*
FROM (SELECT cs.id AS client_service_id, c.id AS client_id, c.app_id, c.name AS client_name,
             s.id AS service_id, s.microservice, s.service, s.route, s.url, s.method, s.timeout_ms,
             s.fields, s.template, s.settings AS service_settings, cs.settings AS route_settings, cs.enabled,
             cs.request_function, cs.response_function, cs.callback_function, cs.callback_token_sealed,
             cs.status_function
      FROM mospay.client_services cs
      JOIN mospay.clients c ON c.id = cs.client_id
      JOIN mospay.services s ON s.id = cs.service_id) AS r

-- name: set_missing_callback_token
-- A route with a CALLBACK function but no token yet (assigned before migration 0009) gets one; the first
-- instance to write it wins and every other reads that one back.
UPDATE mospay.client_services SET callback_token_sealed = coalesce(callback_token_sealed, %(sealed)s)
WHERE id = %(id)s
RETURNING callback_token_sealed

-- name: notify_not_only_from_tenants
-- Whether any of these notifying backends is not a client function's (any role may NOTIFY any channel: those
-- are ignored). The runner's backends run client functions (migration 0074); a backend already gone counts as
-- the switch's (a `flask` command that notified and exited).
SELECT EXISTS (SELECT 1 FROM unnest(%s::integer[]) AS s(pid)
               WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                 WHERE a.pid = s.pid
                                   AND (a.usename = mospay.function_runner_role()
                                        OR EXISTS (SELECT 1 FROM mospay.clients c
                                                   WHERE c.function_role = a.usename))))
       AS changed

-- name: notify_registry_changed
SELECT pg_notify('mospay_registry', %s)

-- name: rotate_callback_token
-- A new callback URL token for one route: the old one stops working at the next route-table load.
UPDATE mospay.client_services SET callback_token_sealed = %(sealed)s, updated_at = now()
WHERE id = %(id)s AND callback_function IS NOT NULL
RETURNING id
