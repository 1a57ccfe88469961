-- Rollups (issue 16): the dashboard and the settlement report read counts and amounts per hour × client ×
-- route × currency × state instead of scanning transactions.
--
-- No hot row per payment: the payment path writes nothing more. The worker folds rows in every few seconds
-- (sql/queries/rollups.sql: fold_rollups). A transaction remembers the state the rollups count it in
-- (rolled_status); a row whose state differs — just claimed, or changed since (PENDING → SUCCESS, a
-- resolution, recovery) — is in the small partial index below until folded: the fold moves its count from
-- the old state's bucket to the new one and sets rolled_status, in one statement. Readers add that
-- not-yet-folded tail to the rollups in the same snapshot, so what they show is exact at every moment.
-- Rows present before this migration have rolled_status NULL: the worker folds them in batches.

ALTER TABLE mospay.transactions ADD COLUMN rolled_status text;
CREATE INDEX transactions_unrolled_idx ON mospay.transactions (id) WHERE rolled_status IS DISTINCT FROM status;

CREATE TABLE mospay.transaction_rollups (
    hour              timestamptz NOT NULL,  -- date_trunc('hour', created_at)
    client_id         bigint NOT NULL REFERENCES mospay.clients(id),
    client_service_id bigint NOT NULL REFERENCES mospay.client_services(id),
    currency          text,                  -- f005 as sent (NULL: the service has none)
    status            text NOT NULL,
    count             bigint NOT NULL,
    amount            numeric NOT NULL,      -- f004 of the well-formed amounts, exact
    CONSTRAINT transaction_rollups_key UNIQUE NULLS NOT DISTINCT (hour, client_id, client_service_id, currency, status)
);

-- The same per day (in the database's TimeZone, as the settlement report's days): a month's report reads
-- 30 × routes × states rows, not 24 times as many.
CREATE TABLE mospay.transaction_rollups_daily (
    day               date NOT NULL,         -- created_at::date
    client_id         bigint NOT NULL REFERENCES mospay.clients(id),
    client_service_id bigint NOT NULL REFERENCES mospay.client_services(id),
    currency          text,
    status            text NOT NULL,
    count             bigint NOT NULL,
    amount            numeric NOT NULL,
    CONSTRAINT transaction_rollups_daily_key
        UNIQUE NULLS NOT DISTINCT (day, client_id, client_service_id, currency, status)
);

-- What the not-yet-folded rows created in [lo, hi) add to the rollups: +1 in the bucket of their state, -1
-- in the bucket they are still counted in (if any). The one definition of a row's buckets and amount for
-- readers (sql/queries/rollups.sql). The planner cannot estimate "rolled_status IS DISTINCT FROM status" (it
-- guesses most rows) and would scan the table; the tail is small by design, so this function reads it from
-- the partial index above: sequential scans are off inside it, and the time range is applied after the
-- index read (OFFSET 0 keeps it there).
CREATE FUNCTION mospay.rollup_tail(lo timestamptz, hi timestamptz)
RETURNS TABLE (hour timestamptz, day date, client_id bigint, client_service_id bigint, currency text, status text,
               n bigint, amount numeric)
LANGUAGE sql STABLE ROWS 1000 SET enable_seqscan = off AS $$
    SELECT date_trunc('hour', u.created_at), u.created_at::date, u.client_id, u.client_service_id,
           u.request ->> 'f005', d.status, d.n, d.n * a.amount
    FROM (SELECT t.created_at, t.client_id, t.client_service_id, t.request, t.status, t.rolled_status
          FROM mospay.transactions t
          WHERE t.rolled_status IS DISTINCT FROM t.status
          OFFSET 0) u
    CROSS JOIN LATERAL (SELECT CASE WHEN u.request ->> 'f004' ~ '^[0-9]{1,15}([.][0-9]{1,4})?$'
                                    THEN (u.request ->> 'f004')::numeric END AS amount) a
    CROSS JOIN LATERAL (VALUES (u.status, 1::bigint), (u.rolled_status, -1::bigint)) AS d(status, n)
    WHERE u.created_at >= lo AND u.created_at < hi AND d.status IS NOT NULL
$$;
