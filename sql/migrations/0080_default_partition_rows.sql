-- Rows in a DEFAULT partition (migration 0071) are traffic outside every time partition: the worker's partition
-- maintenance is behind. Operators see them in /metrics (mospay_partition_default_rows), in `flask partitions
-- status`, and now through an alert rule of kind default_partition. All three count them with the function below:
-- each DEFAULT partition's rows up to p_cap, so a scrape or an alert evaluation reads at most p_cap rows of each
-- (an empty partition costs nothing). Not a definer: the app role may read these tables already. Its locks wait at
-- most 200 ms: maintenance moving a large DEFAULT partition's rows holds it for as long, and a metrics scrape must
-- not queue behind that (the caller keeps its last count, or tries again at the next evaluation).
CREATE FUNCTION mospay.default_partition_rows(p_cap integer)
RETURNS TABLE (parent text, n bigint)
LANGUAGE sql STABLE SET search_path = pg_catalog, mospay, pg_temp SET lock_timeout = '200ms' AS $$
    SELECT 'transactions', (SELECT count(*) FROM (SELECT FROM mospay.transactions_default LIMIT p_cap) d)
    UNION ALL SELECT 'api_logs', (SELECT count(*) FROM (SELECT FROM mospay.api_logs_default LIMIT p_cap) d)
    UNION ALL SELECT 'provider_callbacks',
                     (SELECT count(*) FROM (SELECT FROM mospay.provider_callbacks_default LIMIT p_cap) d)
    UNION ALL SELECT 'audit_log', (SELECT count(*) FROM (SELECT FROM mospay.audit_log_default LIMIT p_cap) d)
$$;

ALTER TABLE mospay.alert_rules DROP CONSTRAINT alert_rules_kind_check;
ALTER TABLE mospay.alert_rules ADD CONSTRAINT alert_rules_kind_check
    CHECK (kind IN ('success_rate', 'unknown_age', 'circuit_open', 'latency_p99', 'dead_callbacks', 'reconciliation',
                    'default_partition'));
