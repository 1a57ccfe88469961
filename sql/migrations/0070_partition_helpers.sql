-- Issue 16 (partitioning and retention): the owner-side helpers the app role calls to keep the four large tables'
-- time partitions (migration 0071). The switch logs in as mospay_app_<oid> (DML only, migration 0023), and the
-- embedded PostgreSQL has no pg_partman or pg_cron, so the worker's maintenance step (gateway/follow_up/partitions.py)
-- asks the owner through these SECURITY DEFINER functions: a fixed search_path, only the four tables, only their own
-- partitions, partition names made here (never taken from the caller), and no partition dropped whose range reaches
-- into the retention window. Every helper names pg_temp last in its search_path and the catalogue in full: a
-- temporary view called pg_class would otherwise be read first and lie about the bounds. Locks wait at most
-- 500 ms: a DDL step queued behind a long reader would hold every payment behind it (the caller retries later).

-- Every range partition of the four tables with its bounds (read from the catalogue: MINVALUE is -infinity, MAXVALUE
-- +infinity; the DEFAULT partition has none). Not a definer: anyone who may read the catalogue sees the same.
CREATE FUNCTION mospay.partition_bounds()
RETURNS TABLE (parent text, partition text, lower_bound timestamptz, upper_bound timestamptz, is_default boolean)
LANGUAGE sql STABLE SET search_path = pg_catalog, mospay, pg_temp SET TimeZone = 'UTC' AS $$
    SELECT p.relname::text, c.relname::text,
           CASE WHEN b[1] IS NULL THEN NULL WHEN b[1] = 'MINVALUE' THEN '-infinity'::timestamptz
                ELSE btrim(b[1], '''')::timestamptz END,
           CASE WHEN b[2] IS NULL THEN NULL WHEN b[2] = 'MAXVALUE' THEN 'infinity'::timestamptz
                ELSE btrim(b[2], '''')::timestamptz END,
           b IS NULL
    FROM pg_catalog.pg_inherits i
    JOIN pg_catalog.pg_class p ON p.oid = i.inhparent
    JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
    CROSS JOIN LATERAL pg_catalog.regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
                                               'FROM \((.*)\) TO \((.*)\)') AS b
    WHERE p.relnamespace = 'mospay'::regnamespace
      AND p.relname IN ('transactions', 'api_logs', 'provider_callbacks', 'audit_log')
$$;

-- Make partitions of p_table so that [p_from, p_until) is covered: periods of p_days days on a grid that starts on
-- a Monday (2000-01-03 UTC), each clipped to what no partition covers yet (the historic partition of migration
-- 0071 ends mid-period; a changed width meets the old grid). Rows the DEFAULT partition holds in a new range are
-- moved into it first (PostgreSQL refuses to attach a range the DEFAULT partition has rows in). A new partition is
-- built apart and ATTACHed, which only takes SHARE UPDATE EXCLUSIVE on the parent: payments keep flowing.
-- Returns the partitions made.
CREATE FUNCTION mospay.ensure_partitions(p_table text, p_from timestamptz, p_until timestamptz, p_days integer)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay, pg_temp SET TimeZone = 'UTC' SET lock_timeout = '500ms'
AS $$
DECLARE
    grid constant timestamptz := '2000-01-03 00:00:00+00';
    lo timestamptz;
    hi timestamptz;
    period_end timestamptz;
    covered timestamptz;
    next_lower timestamptz;
    name text;
    made integer := 0;
BEGIN
    IF p_table IS NULL OR p_table NOT IN ('transactions', 'api_logs', 'provider_callbacks', 'audit_log') THEN
        RAISE EXCEPTION 'not a partitioned table of the switch: %', p_table;
    END IF;
    IF p_days IS NULL OR p_days NOT BETWEEN 1 AND 366 THEN
        RAISE EXCEPTION 'partition width must be 1 to 366 days, not %', p_days;
    END IF;
    IF p_from IS NULL OR p_until IS NULL OR p_from > p_until OR p_until - p_from > interval '1000 days'
       OR p_from < now() - interval '5 years' OR p_until > now() + interval '1 year' THEN
        RAISE EXCEPTION 'partition range % to % refused', p_from, p_until;
    END IF;
    PERFORM pg_advisory_xact_lock(7340070);  -- two workers at once: one makes, the other then finds them made
    lo := grid + floor(extract(epoch FROM p_from - grid) / (86400 * p_days)) * make_interval(days => p_days);
    WHILE lo < p_until LOOP
        period_end := lo + make_interval(days => p_days);
        LOOP  -- skip what existing partitions cover from lo on
            SELECT max(b.upper_bound) INTO covered FROM mospay.partition_bounds() b
            WHERE b.parent = p_table AND NOT b.is_default AND b.lower_bound <= lo AND b.upper_bound > lo;
            EXIT WHEN covered IS NULL;
            lo := covered;
        END LOOP;
        SELECT min(b.lower_bound) INTO next_lower FROM mospay.partition_bounds() b
        WHERE b.parent = p_table AND NOT b.is_default AND b.lower_bound > lo;
        hi := least(period_end, coalesce(next_lower, period_end));
        IF lo < hi THEN
            name := format('%s_p%s', p_table, to_char(lo, 'YYYYMMDD'));
            EXECUTE format('CREATE TABLE mospay.%I (LIKE mospay.%I INCLUDING DEFAULTS INCLUDING CONSTRAINTS)',
                           name, p_table);
            -- No claim may land in DEFAULT within [lo, hi) while its rows move: ATTACH would then be refused.
            EXECUTE format('LOCK TABLE mospay.%I IN SHARE ROW EXCLUSIVE MODE', p_table || '_default');
            EXECUTE format('WITH moved AS (DELETE FROM mospay.%I WHERE created_at >= %L AND created_at < %L '
                           'RETURNING *) INSERT INTO mospay.%I SELECT * FROM moved',
                           p_table || '_default', lo, hi, name);
            EXECUTE format('ALTER TABLE mospay.%I ATTACH PARTITION mospay.%I FOR VALUES FROM (%L) TO (%L)',
                           p_table, name, lo, hi);
            made := made + 1;
        END IF;
        lo := greatest(period_end, hi);
    END LOOP;
    RETURN made;
END
$$;

-- Detach and drop one partition of p_table whose whole range is older than p_retain_days days; false (kept) when a
-- transactions partition still holds an open payment or one a job still follows. The name only finds the partition
-- among p_table's own; the DEFAULT partition is never dropped. The app role may already DELETE
-- these rows: this helper only lets it do so in one cheap step.
CREATE FUNCTION mospay.drop_partition(p_table text, p_partition text, p_retain_days integer)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay, pg_temp SET TimeZone = 'UTC' SET lock_timeout = '500ms'
AS $$
DECLARE
    part record;
    open_payments boolean;
BEGIN
    IF p_table IS NULL OR p_table NOT IN ('transactions', 'api_logs', 'provider_callbacks', 'audit_log') THEN
        RAISE EXCEPTION 'not a partitioned table of the switch: %', p_table;
    END IF;
    IF p_retain_days IS NULL OR p_retain_days < 1 THEN
        RAISE EXCEPTION 'retention must be at least 1 day, not %', p_retain_days;
    END IF;
    PERFORM pg_advisory_xact_lock(7340070);
    SELECT b.* INTO part FROM mospay.partition_bounds() b
    WHERE b.parent = p_table AND b.partition = p_partition;
    IF part IS NULL OR part.is_default THEN
        RAISE EXCEPTION 'not a range partition of mospay.%: %', p_table, p_partition;
    END IF;
    IF part.upper_bound > now() - make_interval(days => p_retain_days) THEN
        RAISE EXCEPTION 'partition % reaches into the last % days', part.partition, p_retain_days;
    END IF;
    IF p_table = 'transactions' THEN
        -- An open payment (still RECEIVED, PENDING or UNKNOWN) or one a job still follows stays, whatever its age:
        -- dropping it would lose what an operator or the follow-up must still settle, and free its unique id.
        -- (By status through the partition's status index; by job from the few jobs not done.)
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM mospay.%1$I t WHERE t.status IN (''RECEIVED'', ''PENDING'', '
                       '''UNKNOWN'')) OR EXISTS (SELECT 1 FROM mospay.jobs j JOIN mospay.%1$I t '
                       'ON t.id = j.transaction_id WHERE j.state <> ''done'')', part.partition) INTO open_payments;
        IF open_payments THEN
            RETURN false;
        END IF;
    END IF;
    EXECUTE format('ALTER TABLE mospay.%I DETACH PARTITION mospay.%I', p_table, part.partition);
    EXECUTE format('DROP TABLE mospay.%I', part.partition);
    RETURN true;
END
$$;

REVOKE EXECUTE ON FUNCTION mospay.ensure_partitions(text, timestamptz, timestamptz, integer),
    mospay.drop_partition(text, text, integer) FROM PUBLIC;

-- The app role's privileges (migration 0023), with the two helpers above.
CREATE OR REPLACE FUNCTION mospay.grant_app_role(p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA mospay, mospay_fn, mospay_legacy TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('REVOKE ALL ON mospay.app_role FROM %I', p_role);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON mospay.schema_migrations FROM %I', p_role);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON mospay_fn.fx_rates TO %I', p_role);
    EXECUTE format('GRANT mospay_fn_owner TO %I', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION mospay.ensure_tenant_role(bigint, text, text), '
                   'mospay.grant_client_function(text, bigint), mospay.grant_legacy_functions(), '
                   'mospay.terminate_client_backend(integer), '
                   'mospay.ensure_partitions(text, timestamptz, timestamptz, integer), '
                   'mospay.drop_partition(text, text, integer) TO %I', p_role);
END
$$;
