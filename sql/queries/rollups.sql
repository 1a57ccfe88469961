-- Rollups of transactions per hour (and per day) × client × route × currency × state (migration 0041;
-- gateway/admin/rollups.py).
-- A transaction counts in the bucket of rolled_status; rows whose status differs are the not-yet-folded tail.
-- Amounts are f004 as numeric (well-formed only), kept per currency (the payment's, fixed when it was claimed):
-- never a sum of currencies.

-- name: lock_transactions_for_fold
-- Taken first in the fold's transaction. The fold reads its rows FOR UPDATE, then updates them: two lock modes on
-- each partition, one after the other. Partition maintenance attaching a new partition waits for ACCESS EXCLUSIVE
-- on the DEFAULT partition between those two, and the two deadlocked (seen in bench/scale.py). Holding the
-- stronger mode from the start, the fold waits for maintenance or maintenance for the fold, never both.
LOCK TABLE mospay.transactions IN ROW EXCLUSIVE MODE

-- name: fold_rollups
-- Fold up to %(limit)s changed rows: each leaves its old state's buckets (hour and day; if it was in one) and
-- enters its new ones, and remembers the state it is counted in, all in one statement. Rows another session holds (a payment
-- being settled) are skipped, and so are claims younger than %(claim_grace_seconds)s (their answer is on its way:
-- folding them now would lock a row the hot path is about to settle, and fold it twice). Buckets are
-- written in key order, so two workers folding at once never deadlock.
WITH picked AS (
    SELECT id, created_at, rolled_status AS old_status
    FROM mospay.transactions
    WHERE rolled_status IS DISTINCT FROM status
      AND (status <> 'RECEIVED' OR created_at < now() - make_interval(secs => %(claim_grace_seconds)s))
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE mospay.transactions t SET rolled_status = t.status
    FROM picked p
    WHERE t.id = p.id AND t.created_at = p.created_at
      -- transactions is partitioned (migration 0071): as arrays, the picked rows' ids and times are index
      -- conditions and prune the partitions none of them is in; a plain join hashed a scan of every partition.
      AND t.id = ANY(ARRAY(SELECT id FROM picked)) AND t.created_at = ANY(ARRAY(SELECT created_at FROM picked))
    RETURNING date_trunc('hour', t.created_at) AS hour, t.created_at::date AS day, t.client_id, t.client_service_id,
              t.currency, t.status AS new_status, p.old_status,
              CASE WHEN t.request ->> 'f004' ~ '^[0-9]{1,15}([.][0-9]{1,4})?$'
                   THEN (t.request ->> 'f004')::numeric END AS amount
), deltas AS (
    SELECT hour, day, client_id, client_service_id, currency, new_status AS status, 1 AS n, amount FROM moved
    UNION ALL
    SELECT hour, day, client_id, client_service_id, currency, old_status, -1, -amount FROM moved
    WHERE old_status IS NOT NULL
), applied AS (
    INSERT INTO mospay.transaction_rollups AS r (hour, client_id, client_service_id, currency, status, count, amount)
    SELECT hour, client_id, client_service_id, currency, status, sum(n), coalesce(sum(amount), 0)
    FROM deltas
    GROUP BY hour, client_id, client_service_id, currency, status
    ORDER BY hour, client_id, client_service_id, currency, status
    ON CONFLICT ON CONSTRAINT transaction_rollups_key
    DO UPDATE SET count = r.count + excluded.count, amount = r.amount + excluded.amount
), applied_daily AS (
    INSERT INTO mospay.transaction_rollups_daily AS r (day, client_id, client_service_id, currency, status, count,
                                                      amount)
    SELECT day, client_id, client_service_id, currency, status, sum(n), coalesce(sum(amount), 0)
    FROM deltas
    GROUP BY day, client_id, client_service_id, currency, status
    ORDER BY day, client_id, client_service_id, currency, status
    ON CONFLICT ON CONSTRAINT transaction_rollups_daily_key
    DO UPDATE SET count = r.count + excluded.count, amount = r.amount + excluded.amount
)
SELECT count(*) AS folded FROM moved

-- name: report_settlement
-- Transactions by day, client, service and currency, from date_from (default: today) to date_to (excluded;
-- default: tomorrow): the rollups plus the not-yet-folded tail, in one snapshot, so exact. The dashboard (today)
-- and the settlement report (any range) both read these rows, so each figure is defined here once.
-- Completed: a final state (SUCCESS, FAILED, REJECTED), not PENDING, UNKNOWN or RECEIVED; open: those three.
-- Volume: successful payments only. Fees: what a service declares in settings.fee ({"percent", "fixed"}), on each
-- successful payment in its own currency (percent of f004 plus the fixed part, rounded to 4 places), at the
-- service's settings as they are now: read from the payments themselves, for the services that declare one only.
WITH buckets AS (
    SELECT r.day, r.client_id, r.client_service_id, r.currency, r.status, r.count, r.amount
    FROM mospay.transaction_rollups_daily r
    WHERE r.day >= coalesce(%(date_from)s::date, current_date) AND r.day < coalesce(%(date_to)s::date, current_date + 1)
    UNION ALL
    SELECT day, client_id, client_service_id, currency, status, n, amount
    FROM mospay.rollup_tail(coalesce(%(date_from)s::date, current_date)::timestamptz,
                            coalesce(%(date_to)s::date, current_date + 1)::timestamptz)
), fees AS (
    SELECT t.created_at::date AS day, t.client_service_id, t.currency,
           sum(round(a.amount * coalesce((s.settings #>> '{fee,percent}')::numeric, 0) / 100
                     + coalesce((s.settings #>> '{fee,fixed}')::numeric, 0), 4)) AS fees
    FROM mospay.services s
    JOIN mospay.client_services cs ON cs.service_id = s.id
    JOIN mospay.transactions t ON t.client_service_id = cs.id
    CROSS JOIN LATERAL (SELECT CASE WHEN t.request ->> 'f004' ~ '^[0-9]{1,15}([.][0-9]{1,4})?$'
                                    THEN (t.request ->> 'f004')::numeric END AS amount) a
    WHERE s.settings ? 'fee' AND t.status = 'SUCCESS'
      AND t.created_at >= coalesce(%(date_from)s::date, current_date)::timestamptz
      AND t.created_at < coalesce(%(date_to)s::date, current_date + 1)::timestamptz
    GROUP BY 1, 2, 3
)
SELECT k.day, c.app_id, c.name, s.microservice, s.service, s.route,
       k.currency,
       sum(k.count)::bigint AS count,
       coalesce(sum(k.count) FILTER (WHERE k.status = 'SUCCESS'), 0)::bigint AS success,
       coalesce(sum(k.count) FILTER (WHERE k.status = 'FAILED'), 0)::bigint AS failed,
       coalesce(sum(k.count) FILTER (WHERE k.status = 'REJECTED'), 0)::bigint AS rejected,
       coalesce(sum(k.count) FILTER (WHERE k.status IN ('PENDING', 'UNKNOWN', 'RECEIVED')), 0)::bigint AS open,
       coalesce(sum(k.count) FILTER (WHERE k.status IN ('SUCCESS', 'FAILED', 'REJECTED')), 0)::bigint AS completed,
       coalesce(sum(k.amount) FILTER (WHERE k.status = 'SUCCESS'), 0) AS volume,
       coalesce(sum(k.amount) FILTER (WHERE k.status = 'FAILED'), 0) AS failed_amount,
       coalesce(sum(k.amount) FILTER (WHERE k.status IN ('PENDING', 'UNKNOWN', 'RECEIVED')), 0) AS open_amount,
       coalesce(max(f.fees), 0) AS fees
FROM buckets k
JOIN mospay.clients c ON c.id = k.client_id
JOIN mospay.client_services cs ON cs.id = k.client_service_id
JOIN mospay.services s ON s.id = cs.service_id
LEFT JOIN fees f ON f.day = k.day AND f.client_service_id = k.client_service_id
                AND f.currency IS NOT DISTINCT FROM k.currency
GROUP BY 1, c.app_id, c.name, s.microservice, s.service, s.route, k.currency
HAVING sum(k.count) <> 0
ORDER BY 1, c.app_id, s.microservice, s.service, s.route, 7

-- name: report_hourly
-- The last 24 hours: one row per hour and state (an hour without transactions: one row, status NULL), from the
-- rollups and the not-yet-folded tail.
WITH hours AS (
    SELECT h AS hour FROM generate_series(date_trunc('hour', now()) - interval '23 hours', date_trunc('hour', now()),
                                          interval '1 hour') AS h
), buckets AS (
    SELECT r.hour, r.status, r.count
    FROM mospay.transaction_rollups r
    WHERE r.hour >= date_trunc('hour', now()) - interval '23 hours'
    UNION ALL
    SELECT hour, status, n
    FROM mospay.rollup_tail(date_trunc('hour', now()) - interval '23 hours', 'infinity')
), states AS (
    SELECT hour, status, sum(count)::bigint AS count FROM buckets GROUP BY hour, status HAVING sum(count) <> 0
)
SELECT h.hour, s.status, coalesce(s.count, 0) AS count
FROM hours h
LEFT JOIN states s ON s.hour = h.hour
ORDER BY h.hour, s.status
