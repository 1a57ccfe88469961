-- The payment's currency is a fact of the payment, fixed when it is claimed (the route's currency field in the
-- message, else its service's "currency" setting: issue 12), no longer read from f005, which is the payer's
-- number in the standard message. Reports, rollups, lists, exports and reconciliation read this column.
ALTER TABLE mospay.transactions ADD COLUMN currency text;

-- Rows from before: the old convention's f005 when it is a currency code, else the service's setting. Rollups
-- made before this (with f005 as the currency) are folded again from scratch.
UPDATE mospay.transactions t
SET currency = CASE WHEN t.request ->> 'f005' ~ '^[A-Z]{3}$' THEN t.request ->> 'f005'
                    ELSE coalesce(cs.settings ->> 'currency', s.settings ->> 'currency') END,
    rolled_status = NULL
FROM mospay.client_services cs
JOIN mospay.services s ON s.id = cs.service_id
WHERE cs.id = t.client_service_id;
TRUNCATE mospay.transaction_rollups, mospay.transaction_rollups_daily;

CREATE OR REPLACE FUNCTION mospay.rollup_tail(lo timestamptz, hi timestamptz)
RETURNS TABLE (hour timestamptz, day date, client_id bigint, client_service_id bigint, currency text, status text,
               n bigint, amount numeric)
LANGUAGE sql STABLE ROWS 1000 SET enable_seqscan = off AS $$
    SELECT date_trunc('hour', u.created_at), u.created_at::date, u.client_id, u.client_service_id,
           u.currency, d.status, d.n, d.n * a.amount
    FROM (SELECT t.created_at, t.client_id, t.client_service_id, t.request, t.currency, t.status, t.rolled_status
          FROM mospay.transactions t
          WHERE t.rolled_status IS DISTINCT FROM t.status
          OFFSET 0) u
    CROSS JOIN LATERAL (SELECT CASE WHEN u.request ->> 'f004' ~ '^[0-9]{1,15}([.][0-9]{1,4})?$'
                                    THEN (u.request ->> 'f004')::numeric END AS amount) a
    CROSS JOIN LATERAL (VALUES (u.status, 1::bigint), (u.rolled_status, -1::bigint)) AS d(status, n)
    WHERE u.created_at >= lo AND u.created_at < hi AND d.status IS NOT NULL
$$;
