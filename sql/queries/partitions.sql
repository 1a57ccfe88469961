-- Time partitions of transactions, api_logs, provider_callbacks and audit_log (migrations 0070-0071;
-- gateway/follow_up/partitions.py). Partitions are made and dropped only through the owner's helpers.

-- name: partition_status
-- Every partition with its range, the planner's row estimate and its size on disk (indexes included).
-- The historic partition of migration 0071 starts at MINVALUE: its lower bound is NULL here (Python has no
-- -infinity), as is every bound of a DEFAULT partition.
SELECT b.parent, b.partition, CASE WHEN isfinite(b.lower_bound) THEN b.lower_bound END AS lower_bound,
       CASE WHEN isfinite(b.upper_bound) THEN b.upper_bound END AS upper_bound, b.is_default,
       greatest(c.reltuples, 0)::bigint AS rows_estimate,
       pg_total_relation_size(c.oid) AS bytes
FROM mospay.partition_bounds() b
JOIN pg_class c ON c.relname = b.partition AND c.relnamespace = 'mospay'::regnamespace
ORDER BY b.parent, b.is_default, b.lower_bound

-- name: ensure_partitions
SELECT mospay.ensure_partitions(%(table)s, %(from)s, %(until)s, %(days)s) AS made

-- name: drop_partition
SELECT mospay.drop_partition(%(table)s, %(partition)s, %(retain_days)s) AS dropped

-- name: default_partition_rows
-- What a DEFAULT partition holds (none while the worker keeps partitions ahead) and its oldest row.
SELECT 'transactions' AS parent, count(*) AS n, min(created_at) AS oldest FROM mospay.transactions_default
UNION ALL SELECT 'api_logs', count(*), min(created_at) FROM mospay.api_logs_default
UNION ALL SELECT 'provider_callbacks', count(*), min(created_at) FROM mospay.provider_callbacks_default
UNION ALL SELECT 'audit_log', count(*), min(created_at) FROM mospay.audit_log_default

-- name: default_partition_rows_capped
-- How many rows each DEFAULT partition holds, counted up to %(cap)s (migration 0080): cheap enough for every metrics
-- scrape. Above 0, maintenance is behind.
SELECT parent, n FROM mospay.default_partition_rows(%(cap)s)

-- name: expired_partitions
-- Range partitions of %(table)s whose whole range is older than %(retain_days)s days, oldest first.
SELECT partition, CASE WHEN isfinite(lower_bound) THEN lower_bound END AS lower_bound, upper_bound
FROM mospay.partition_bounds()
WHERE parent = %(table)s AND NOT is_default AND upper_bound <= now() - make_interval(days => %(retain_days)s)
ORDER BY upper_bound

-- name: partition_holds_open_payments
-- Whether the transactions in [%(lower)s, %(upper)s) (one partition's range; a NULL lower bound: the historic
-- partition) hold an open payment or one a job still follows: what drop_partition (migration 0070) refuses to
-- drop, asked before the partition is archived. The bounds prune the scan to that one partition.
SELECT EXISTS (SELECT 1 FROM mospay.transactions t
               WHERE t.created_at >= coalesce(%(lower)s::timestamptz, '-infinity') AND t.created_at < %(upper)s
                 AND t.status IN ('RECEIVED', 'PENDING', 'UNKNOWN'))
    OR EXISTS (SELECT 1 FROM mospay.jobs j JOIN mospay.transactions t ON t.id = j.transaction_id
               WHERE j.state <> 'done'
                 AND t.created_at >= coalesce(%(lower)s::timestamptz, '-infinity') AND t.created_at < %(upper)s)
    AS holds_open

-- name: delete_payment_keys
-- One batch of the keys older than every payment still kept (the oldest range partition's lower bound, and the
-- DEFAULT partition's oldest row): the keys of dropped payments, whichever run dropped them. The replay window is
-- the transactions' retention. While the historic partition (from MINVALUE) exists, nothing is older.
DELETE FROM mospay.payment_keys
WHERE ctid = ANY(ARRAY(
    SELECT ctid FROM mospay.payment_keys
    WHERE created_at < (SELECT least(min(b.lower_bound) FILTER (WHERE NOT b.is_default),
                                     (SELECT min(d.created_at) FROM mospay.transactions_default d))
                        FROM mospay.partition_bounds() b WHERE b.parent = 'transactions')
    LIMIT %(limit)s))

-- name: delete_finished_jobs
-- One batch of finished (done) jobs older than %(retain_days)s days; dead and manual ones wait for an operator.
DELETE FROM mospay.jobs
WHERE id = ANY(ARRAY(SELECT id FROM mospay.jobs
                     WHERE state = 'done' AND created_at < now() - make_interval(days => %(retain_days)s)
                     LIMIT %(limit)s))

-- name: archive_transactions
-- (A NULL lower bound: the historic partition, from its first row.)
COPY (SELECT * FROM mospay.transactions
      WHERE (%(lower)s::timestamptz IS NULL OR created_at >= %(lower)s) AND created_at < %(upper)s)
TO STDOUT (FORMAT csv, HEADER)

-- name: archive_api_logs
COPY (SELECT * FROM mospay.api_logs
      WHERE (%(lower)s::timestamptz IS NULL OR created_at >= %(lower)s) AND created_at < %(upper)s)
TO STDOUT (FORMAT csv, HEADER)

-- name: archive_provider_callbacks
COPY (SELECT * FROM mospay.provider_callbacks
      WHERE (%(lower)s::timestamptz IS NULL OR created_at >= %(lower)s) AND created_at < %(upper)s)
TO STDOUT (FORMAT csv, HEADER)

-- name: archive_audit_log
COPY (SELECT * FROM mospay.audit_log
      WHERE (%(lower)s::timestamptz IS NULL OR created_at >= %(lower)s) AND created_at < %(upper)s)
TO STDOUT (FORMAT csv, HEADER)

-- name: try_partition_maintenance_lock
-- One maintenance run at a time across workers and instances (held by the run's own connection).
SELECT pg_try_advisory_lock(7340071) AS locked

-- name: release_partition_maintenance_lock
SELECT pg_advisory_unlock(7340071) AS unlocked
