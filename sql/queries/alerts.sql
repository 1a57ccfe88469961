-- Alerts (gateway/admin/alert_rules.py, gateway/follow_up/alerts.py, gateway/follow_up/alert_notifications.py).

-- name: insert_alert_rule
INSERT INTO mospay.alert_rules (name, kind, params, webhook_url, webhook_secret_sealed, emails, enabled, created_by)
VALUES (%(name)s, %(kind)s, %(params)s, %(webhook_url)s, %(webhook_secret_sealed)s, %(emails)s, %(enabled)s, %(actor)s)
ON CONFLICT (name) DO NOTHING
RETURNING id, name, kind, params, webhook_url, emails, enabled, created_by, created_at, updated_at

-- name: list_alert_rules
SELECT id, name, kind, params, webhook_url, emails, enabled, created_by, created_at, updated_at,
       webhook_secret_sealed,
       (SELECT count(*) FROM mospay.alerts a WHERE a.rule_id = r.id AND a.state = 'open') AS open_alerts
FROM mospay.alert_rules r
WHERE (%(enabled_only)s::boolean IS NOT TRUE OR enabled)
ORDER BY id

-- name: get_alert_rule
SELECT id, name, kind, params, webhook_url, emails, enabled, created_by, created_at, updated_at, webhook_secret_sealed
FROM mospay.alert_rules WHERE id = %(id)s

-- name: update_alert_rule
-- A new sealed secret replaces the old one (a rotation, or a rule's first webhook); NULL keeps it.
UPDATE mospay.alert_rules
SET params = %(params)s, webhook_url = %(webhook_url)s, emails = %(emails)s, enabled = %(enabled)s,
    webhook_secret_sealed = coalesce(%(webhook_secret_sealed)s, webhook_secret_sealed), updated_at = now()
WHERE id = %(id)s
RETURNING id, name, kind, params, webhook_url, emails, enabled, created_by, created_at, updated_at

-- name: delete_alert_rule
DELETE FROM mospay.alert_rules WHERE id = %(id)s RETURNING id, name

-- name: alert_condition_success_rate
-- Success rate (SUCCESS among SUCCESS, FAILED and UNKNOWN) of each client or service over the last minutes,
-- below the threshold with at least min_count payments.
SELECT subject, count(*) AS count,
       round(100.0 * count(*) FILTER (WHERE status = 'SUCCESS') / count(*), 1) AS value
FROM (
    SELECT t.status, CASE WHEN %(scope)s = 'client' THEN c.app_id
                          ELSE s.microservice || '/' || s.service || '/' || s.route END AS subject
    FROM mospay.transactions t
    JOIN mospay.clients c ON c.id = t.client_id
    JOIN mospay.client_services cs ON cs.id = t.client_service_id
    JOIN mospay.services s ON s.id = cs.service_id
    WHERE t.created_at >= now() - make_interval(mins => %(minutes)s)
      AND t.status IN ('SUCCESS', 'FAILED', 'UNKNOWN')
) recent
WHERE %(subject)s::text IS NULL OR subject = %(subject)s
GROUP BY subject
HAVING count(*) >= %(min_count)s
   AND 100.0 * count(*) FILTER (WHERE status = 'SUCCESS') / count(*) < %(threshold)s
ORDER BY subject

-- name: alert_condition_unknown_age
-- UNKNOWN payments untouched for more than the given minutes (the attention index answers it).
SELECT '' AS subject, count(*) AS count, count(*) AS value, min(updated_at) AS oldest
FROM mospay.transactions
WHERE status = 'UNKNOWN' AND updated_at < now() - make_interval(mins => %(minutes)s)
HAVING count(*) >= %(min_count)s

-- name: alert_condition_circuit_open
-- A provider's circuit breaker lives in each process's memory; what every process leaves behind is the
-- transactions: the provider's latest `threshold` payments of the window all failed to reach it (refused by an
-- open circuit, connection refused, timeout). One success among them (a half-open trial that passed) clears it.
SELECT microservice AS subject, count(*) AS count,
       count(*) FILTER (WHERE error_code = 'UPSTREAM_CIRCUIT_OPEN') AS value
FROM (
    SELECT s.microservice, t.error_code,
           row_number() OVER (PARTITION BY s.microservice ORDER BY t.id DESC) AS n
    FROM mospay.transactions t
    JOIN mospay.client_services cs ON cs.id = t.client_service_id
    JOIN mospay.services s ON s.id = cs.service_id
    WHERE t.created_at >= now() - make_interval(mins => %(minutes)s)
      AND t.status NOT IN ('RECEIVED', 'REJECTED')
      AND (%(subject)s::text IS NULL OR s.microservice = %(subject)s)
) recent
WHERE n <= %(threshold)s
GROUP BY microservice
HAVING count(*) = %(threshold)s
   AND bool_and(coalesce(error_code IN ('UPSTREAM_CIRCUIT_OPEN', 'UPSTREAM_UNAVAILABLE', 'UPSTREAM_TIMEOUT'), false))
ORDER BY microservice

-- name: alert_condition_latency_p99
-- The 99th percentile of the switch's own answer time (timings.total, ms) over the window, per scope.
SELECT subject, count(*) AS count, round(percentile_cont(0.99) WITHIN GROUP (ORDER BY total)::numeric, 1) AS value
FROM (
    SELECT (t.timings ->> 'total')::numeric AS total,
           CASE %(scope)s WHEN 'client' THEN c.app_id
                          WHEN 'service' THEN s.microservice || '/' || s.service || '/' || s.route
                          ELSE '' END AS subject
    FROM mospay.transactions t
    JOIN mospay.clients c ON c.id = t.client_id
    JOIN mospay.client_services cs ON cs.id = t.client_service_id
    JOIN mospay.services s ON s.id = cs.service_id
    WHERE t.created_at >= now() - make_interval(mins => %(minutes)s)
      AND t.timings ->> 'total' ~ '^[0-9]+([.][0-9]+)?$'
) recent
WHERE %(subject)s::text IS NULL OR subject = %(subject)s
GROUP BY subject
HAVING count(*) >= %(min_count)s
   AND percentile_cont(0.99) WITHIN GROUP (ORDER BY total) > %(threshold)s
ORDER BY subject

-- name: alert_condition_dead_callbacks
-- Dead-lettered client callbacks, per client: the alert clears when they are re-sent and delivered.
SELECT c.app_id AS subject, count(*) AS count, count(*) AS value
FROM mospay.jobs j
JOIN mospay.clients c ON c.id = j.client_id
WHERE j.state = 'dead' AND j.kind = 'client_callback'
  AND (%(subject)s::text IS NULL OR c.app_id = %(subject)s)
GROUP BY c.app_id
HAVING count(*) >= %(min_count)s
ORDER BY c.app_id

-- name: alert_condition_reconciliation
-- Each provider's latest reconciliation run, when it found at least min_count discrepancies; a clean later run
-- clears it.
SELECT r.microservice AS subject, r.id AS run_id,
       coalesce((r.figures ->> 'discrepancies')::bigint, 0) AS count,
       coalesce((r.figures ->> 'discrepancies')::bigint, 0) AS value
FROM mospay.reconciliation_runs r
WHERE r.id IN (SELECT max(id) FROM mospay.reconciliation_runs GROUP BY microservice)
  AND (%(subject)s::text IS NULL OR r.microservice = %(subject)s)
  AND coalesce((r.figures ->> 'discrepancies')::bigint, 0) >= %(min_count)s
ORDER BY r.microservice

-- name: alert_condition_default_partition
-- Tables whose DEFAULT partition holds at least min_count rows (counted up to %(cap)s, migration 0080): traffic
-- outside every time partition, so the worker's partition maintenance is behind. Clears once it has moved them.
SELECT parent AS subject, n AS count, n AS value
FROM mospay.default_partition_rows(%(cap)s)
WHERE n >= %(min_count)s AND (%(subject)s::text IS NULL OR parent = %(subject)s)
ORDER BY parent

-- name: upsert_open_alert
-- Opens the alert of a rule and subject once; while it stays open, each evaluation updates it.
WITH before AS (
    SELECT value FROM mospay.alerts WHERE rule_id = %(rule_id)s AND subject = %(subject)s AND state = 'open'
)
INSERT INTO mospay.alerts (rule_id, subject, value, summary, details)
VALUES (%(rule_id)s, %(subject)s, %(value)s, %(summary)s, %(details)s)
ON CONFLICT (rule_id, subject) WHERE state = 'open' DO UPDATE
SET value = excluded.value, summary = excluded.summary, details = excluded.details, updated_at = now()
RETURNING id, (xmax = 0) AS opened, (SELECT value FROM before) AS previous_value

-- name: open_alerts_of_rule
SELECT id, subject, value, summary FROM mospay.alerts WHERE rule_id = %(rule_id)s AND state = 'open'

-- name: resolve_alerts_of_disabled_rules
-- A rule switched off watches nothing: its open alerts close (without notifications).
UPDATE mospay.alerts a SET state = 'resolved', resolved_at = now(), updated_at = now()
FROM mospay.alert_rules r
WHERE r.id = a.rule_id AND NOT r.enabled AND a.state = 'open'
RETURNING a.id, a.summary

-- name: resolve_alert
UPDATE mospay.alerts SET state = 'resolved', resolved_at = now(), updated_at = now()
WHERE id = %(id)s AND state = 'open'
RETURNING id

-- name: insert_alert_event
INSERT INTO mospay.alert_events (alert_id, event, actor, value, summary)
VALUES (%(alert_id)s, %(event)s, %(actor)s, %(value)s, %(summary)s)

-- name: acknowledge_alert
UPDATE mospay.alerts SET acknowledged_by = %(actor)s, acknowledged_at = now()
WHERE id = %(id)s AND acknowledged_by IS NULL
RETURNING id, summary, state

-- name: list_alerts
SELECT a.id, a.rule_id, r.name AS rule, r.kind, a.subject, a.state, a.value, a.summary, a.details, a.opened_at,
       a.updated_at, a.resolved_at, a.acknowledged_by, a.acknowledged_at
FROM mospay.alerts a
JOIN mospay.alert_rules r ON r.id = a.rule_id
WHERE (%(state)s::text IS NULL OR a.state = %(state)s)
ORDER BY a.id DESC
LIMIT %(limit)s

-- name: get_alert
SELECT a.id, a.rule_id, r.name AS rule, r.kind, a.subject, a.state, a.value, a.summary, a.details, a.opened_at,
       a.updated_at, a.resolved_at, a.acknowledged_by, a.acknowledged_at,
       r.webhook_url, r.webhook_secret_sealed, r.emails
FROM mospay.alerts a
JOIN mospay.alert_rules r ON r.id = a.rule_id
WHERE a.id = %(id)s

-- name: alert_events
SELECT id, event, actor, value, summary, at FROM mospay.alert_events WHERE alert_id = %(alert_id)s ORDER BY id

-- name: open_alert_count
SELECT count(*) AS open, count(*) FILTER (WHERE acknowledged_by IS NULL) AS unacknowledged
FROM mospay.alerts WHERE state = 'open'

-- name: queue_alert_notification
INSERT INTO mospay.jobs (kind, payload) VALUES ('alert_notification', %(payload)s) RETURNING id

-- name: ensure_schedule
INSERT INTO mospay.schedules (name) VALUES (%(name)s) ON CONFLICT (name) DO NOTHING

-- name: claim_schedule
-- One worker wins each period: the row lock makes a concurrent claim see the new next_run_at and take nothing.
UPDATE mospay.schedules
SET next_run_at = now() + make_interval(secs => %(every_seconds)s), last_run_at = now()
WHERE name = %(name)s AND next_run_at <= now()
RETURNING name
