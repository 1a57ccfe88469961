-- Read-only queries of the portal's reports (gateway/admin/reports.py).
-- Optional filters are NULL when unset: one plan, no SQL built from strings.

-- name: report_transaction
SELECT t.id, t.ref::text AS ref, t.unique_id, t.status, t.request, t.downstream_request, t.downstream_status,
       t.downstream_response, t.answer, t.answer ->> 'code' AS answer_code, t.http_status, t.error_code,
       t.error_detail, t.timings, t.routing, t.trace_id,
       t.created_at, t.updated_at, t.completed_at, t.client_id, t.provider_ref,
       c.app_id, c.name AS client_name, s.microservice, s.service, s.route,
       cs.request_function, cs.response_function
FROM mospay.transactions t
JOIN mospay.clients c ON c.id = t.client_id
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.ref = %(ref)s

-- name: report_related_transactions
-- Later payments of the same client that name this one in f009 (a capture, refund or reversal
-- passes the original's provider reference, or its f010): the templates' convention, not a provider's.
-- Later: from this one's created_at on, so the partitions before it are not read.
SELECT t.ref::text AS ref, t.unique_id, t.status, t.request ->> 'f004' AS amount, t.currency,
       t.created_at, s.microservice, s.service, s.route
FROM mospay.transactions t
JOIN mospay.client_services cs ON cs.id = t.client_service_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE t.client_id = %(client_id)s AND t.id <> %(id)s AND t.created_at >= %(created_at)s
  AND t.request ->> 'f009' IN (%(unique_id)s, coalesce(%(provider_ref)s, %(unique_id)s))
ORDER BY t.created_at
LIMIT 50

-- name: report_routes
SELECT cs.id, cs.enabled, cs.settings, cs.request_function, cs.response_function, cs.status_function,
       c.app_id, c.name AS client_name, c.active AS client_active,
       s.microservice, s.service, s.route, s.url, s.method, s.timeout_ms, s.fields, s.template
FROM mospay.client_services cs
JOIN mospay.clients c ON c.id = cs.client_id
JOIN mospay.services s ON s.id = cs.service_id
WHERE (%(app_id)s::text IS NULL OR c.app_id = %(app_id)s)
ORDER BY c.app_id, s.microservice, s.service, s.route

-- name: report_audit_actions
SELECT DISTINCT action FROM mospay.audit_log ORDER BY action
