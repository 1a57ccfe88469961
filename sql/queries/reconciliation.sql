-- Reconciliation against a provider's statement (gateway/admin/reconciliation.py).
-- One database transaction per run: the file is COPYed into a temporary table, read through the provider's
-- column mapping, matched against the switch's transactions and classified in SQL; nothing is done row by row
-- in Python. The temporary tables go with the transaction (ON COMMIT DROP).

-- name: recon_mapping
SELECT microservice, columns, match_on, statuses, updated_by, updated_at
FROM mospay.statement_mappings WHERE microservice = %(microservice)s

-- name: recon_save_mapping
INSERT INTO mospay.statement_mappings (microservice, columns, match_on, statuses, updated_by)
VALUES (%(microservice)s, %(columns)s, %(match_on)s, %(statuses)s, %(actor)s)
ON CONFLICT (microservice) DO UPDATE
SET columns = excluded.columns, match_on = excluded.match_on, statuses = excluded.statuses,
    updated_by = excluded.updated_by, updated_at = now()
RETURNING microservice, columns, match_on, statuses, updated_by, updated_at

-- name: recon_provider_exists
SELECT EXISTS (SELECT 1 FROM mospay.services WHERE microservice = %(microservice)s) AS found

-- name: recon_claim_run
-- The same file for the same provider is one run: a second upload finds it (and waits for a concurrent one).
INSERT INTO mospay.reconciliation_runs (microservice, file_sha256, file_name, period_from, period_to, mapping,
                                        created_by)
VALUES (%(microservice)s, %(sha256)s, %(file_name)s, %(date_from)s, %(date_to)s, %(mapping)s, %(actor)s)
ON CONFLICT (microservice, file_sha256) DO NOTHING
RETURNING id

-- name: recon_run_by_file
SELECT id FROM mospay.reconciliation_runs WHERE microservice = %(microservice)s AND file_sha256 = %(sha256)s

-- name: recon_create_raw
-- Up to 40 columns of text, numbered as the file's header is; "line" counts data lines in file order.
CREATE TEMP TABLE statement_raw (
    line bigint GENERATED ALWAYS AS IDENTITY,
    c1 text,
    c2 text,
    c3 text,
    c4 text,
    c5 text,
    c6 text,
    c7 text,
    c8 text,
    c9 text,
    c10 text,
    c11 text,
    c12 text,
    c13 text,
    c14 text,
    c15 text,
    c16 text,
    c17 text,
    c18 text,
    c19 text,
    c20 text,
    c21 text,
    c22 text,
    c23 text,
    c24 text,
    c25 text,
    c26 text,
    c27 text,
    c28 text,
    c29 text,
    c30 text,
    c31 text,
    c32 text,
    c33 text,
    c34 text,
    c35 text,
    c36 text,
    c37 text,
    c38 text,
    c39 text,
    c40 text
) ON COMMIT DROP

-- name: recon_copy_raw
-- A template: the column list is c1, c2 … cN for the file's N columns (composed with psycopg.sql identifiers).
COPY statement_raw ({columns}) FROM STDIN WITH (FORMAT csv, HEADER true)

-- name: recon_load_lines
-- The statement through the mapping (1-based column positions; NULL: not mapped). "line" is the file's line
-- (the header is line 1). join_key: the first line of each reference only (later ones are duplicates).
CREATE TEMP TABLE statement_lines ON COMMIT DROP AS
SELECT line, reference, amount_text, amount, currency, status_text, status, time_text,
       CASE WHEN row_number() OVER (PARTITION BY reference ORDER BY line) = 1 THEN
            CASE WHEN %(match_on)s = 'ref' THEN lower(reference) ELSE reference END END AS join_key,
       row_number() OVER (PARTITION BY reference ORDER BY line) AS copy_no
FROM (
    SELECT r.line + 1 AS line, nullif(btrim(a[%(reference)s::int]), '') AS reference,
           btrim(a[%(amount)s::int]) AS amount_text,
           CASE WHEN btrim(a[%(amount)s::int]) ~ '^-?[0-9]{1,15}([.][0-9]{1,4})?$' THEN btrim(a[%(amount)s::int])::numeric END AS amount,
           upper(nullif(btrim(a[%(currency)s::int]), '')) AS currency,
           btrim(a[%(status)s::int]) AS status_text,
           %(statuses)s::jsonb ->> upper(btrim(a[%(status)s::int])) AS status,
           btrim(a[%(time)s::int]) AS time_text
    FROM statement_raw r
    CROSS JOIN LATERAL (SELECT ARRAY[r.c1, r.c2, r.c3, r.c4, r.c5, r.c6, r.c7, r.c8, r.c9, r.c10, r.c11, r.c12, r.c13, r.c14, r.c15, r.c16, r.c17, r.c18, r.c19, r.c20, r.c21, r.c22, r.c23, r.c24, r.c25, r.c26, r.c27, r.c28, r.c29, r.c30, r.c31, r.c32, r.c33, r.c34, r.c35, r.c36, r.c37, r.c38, r.c39, r.c40] AS a) x
) s

-- name: recon_statement_days
-- The first and last day the statement's time column names (ISO dates or timestamps).
SELECT min(left(time_text, 10)) AS first_day, max(left(time_text, 10)) AS last_day
FROM statement_lines
WHERE time_text ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}'

-- name: recon_load_ours
-- The provider's transactions of the period, with a day's margin each side so that a payment the provider
-- books on the next day still matches; only those inside the period can be "missing at the provider".
CREATE TEMP TABLE ours ON COMMIT DROP AS
SELECT DISTINCT ON (key) *
FROM (
    SELECT t.id, CASE %(match_on)s WHEN 'ref' THEN t.ref::text WHEN 'provider_ref' THEN t.provider_ref
                                   ELSE t.unique_id END AS key,
           t.status, a.amount, upper(t.currency) AS currency,
           t.created_at >= %(date_from)s::date AND t.created_at < %(date_to)s::date + 1 AS in_period,
           t.updated_at < now() - make_interval(mins => %(overdue_minutes)s) AS overdue
    FROM mospay.transactions t
    JOIN mospay.client_services cs ON cs.id = t.client_service_id
    JOIN mospay.services s ON s.id = cs.service_id
    CROSS JOIN LATERAL (SELECT CASE WHEN t.request ->> 'f004' ~ '^-?[0-9]{1,15}([.][0-9]{1,4})?$'
                                    THEN (t.request ->> 'f004')::numeric END AS amount) a
    WHERE s.microservice = %(microservice)s
      AND t.created_at >= %(date_from)s::date - 1 AND t.created_at < %(date_to)s::date + 2
) o
WHERE key IS NOT NULL
ORDER BY key, id DESC

-- name: recon_classify
-- Every statement line, and every successful payment of the period the statement lacks, with its outcome.
-- The order of the CASE is the order of precedence: a line with a wrong amount is an amount mismatch, whatever
-- its state, so that no proposal is made from it.
CREATE TEMP TABLE outcomes ON COMMIT DROP AS
SELECT CASE
           WHEN l.line IS NULL THEN 'missing_at_provider'
           WHEN l.reference IS NULL OR l.amount IS NULL OR l.status IS NULL THEN 'invalid_line'
           WHEN l.copy_no > 1 THEN 'duplicate'
           WHEN o.id IS NULL THEN 'missing_at_switch'
           WHEN l.currency IS NOT NULL AND o.currency IS NOT NULL AND l.currency <> o.currency THEN 'currency_mismatch'
           WHEN o.amount IS DISTINCT FROM l.amount THEN 'amount_mismatch'
           WHEN o.status = l.status THEN 'matched'
           ELSE 'state_mismatch'
       END AS kind,
       l.line, coalesce(l.reference, o.key) AS reference, o.id AS transaction_id, o.status AS our_status,
       l.status AS their_status, o.amount AS our_amount, l.amount AS their_amount, o.currency AS our_currency,
       l.currency AS their_currency, o.overdue,
       CASE WHEN l.line IS NULL THEN NULL
            WHEN l.reference IS NULL THEN 'no reference'
            WHEN l.amount IS NULL THEN 'amount ' || quote_literal(left(coalesce(l.amount_text, ''), 40)) || ' is not a number'
            WHEN l.status IS NULL THEN 'status ' || quote_literal(left(coalesce(l.status_text, ''), 40)) || ' is not in the mapping'
            ELSE left(l.status_text, 40) END AS detail
FROM statement_lines l
FULL JOIN ours o ON o.key = l.join_key
WHERE l.line IS NOT NULL OR (o.in_period AND o.status = 'SUCCESS')

-- name: recon_insert_items
INSERT INTO mospay.reconciliation_items (run_id, kind, line, reference, transaction_id, our_status, their_status,
                                         our_amount, their_amount, our_currency, their_currency, detail)
SELECT %(run_id)s, kind, line, left(reference, 200), transaction_id, our_status, their_status, our_amount,
       their_amount, our_currency, their_currency, detail
FROM outcomes
WHERE kind <> 'matched'
ORDER BY kind, line NULLS LAST, transaction_id

-- name: recon_propose
-- A state mismatch where the switch does not know (UNKNOWN, or PENDING past the overdue time) and the provider
-- says SUCCESS or FAILED becomes a proposal in the four-eyes queue (never a settlement): a second admin approves
-- it. A payment that already has an open proposal keeps that one.
WITH proposed AS (
    INSERT INTO mospay.resolutions (transaction_id, proposed_status, reason, evidence, proposed_by)
    SELECT transaction_id, their_status,
           'The provider''s statement says ' || their_status || ' (reconciliation run ' || %(run_id)s::text
               || ', line ' || line || ')',
           jsonb_build_object('reconciliation_run', %(run_id)s::text, 'statement_line', line::text,
                              'provider_status', detail),
           %(actor)s
    FROM outcomes
    WHERE kind = 'state_mismatch' AND their_status IN ('SUCCESS', 'FAILED')
      AND (our_status = 'UNKNOWN' OR (our_status = 'PENDING' AND overdue))
    ON CONFLICT (transaction_id) WHERE state = 'open' DO NOTHING
    RETURNING id, transaction_id
)
UPDATE mospay.reconciliation_items i
SET resolution_id = p.id
FROM proposed p
WHERE i.run_id = %(run_id)s AND i.kind = 'state_mismatch' AND i.transaction_id = p.transaction_id
RETURNING i.id

-- name: recon_counts
SELECT kind, count(*) AS count FROM outcomes GROUP BY kind

-- name: recon_matched_amounts
-- What the statement and the switch agree on, per currency (never added across currencies).
SELECT coalesce(their_currency, our_currency) AS currency, sum(their_amount) AS amount, count(*) AS count
FROM outcomes
WHERE kind = 'matched'
GROUP BY 1
ORDER BY 1 NULLS LAST

-- name: recon_line_count
SELECT count(*) AS lines, (SELECT count(*) FROM ours WHERE in_period) AS ours_in_period FROM statement_lines

-- name: recon_finish_run
UPDATE mospay.reconciliation_runs
SET figures = %(figures)s, period_from = %(date_from)s, period_to = %(date_to)s, duration_ms = %(duration_ms)s
WHERE id = %(id)s

-- name: recon_run
SELECT id, microservice, file_sha256, file_name, period_from, period_to, mapping, figures, duration_ms,
       created_by, created_at
FROM mospay.reconciliation_runs WHERE id = %(id)s

-- name: recon_runs
SELECT id, microservice, file_sha256, file_name, period_from, period_to, figures, duration_ms, created_by, created_at
FROM mospay.reconciliation_runs
WHERE (%(microservice)s::text IS NULL OR microservice = %(microservice)s)
ORDER BY id DESC
LIMIT %(limit)s

-- name: recon_items
-- A run's discrepancies (kind: all when NULL), in the order they were stored; LIMIT NULL: all (the export).
SELECT i.id, i.kind, i.line, i.reference, t.ref::text AS transaction_ref, t.unique_id, c.app_id, i.our_status,
       i.their_status, i.our_amount, i.their_amount, i.our_currency, i.their_currency, i.detail, i.resolution_id
FROM mospay.reconciliation_items i
LEFT JOIN mospay.transactions t ON t.id = i.transaction_id
LEFT JOIN mospay.clients c ON c.id = t.client_id
WHERE i.run_id = %(run_id)s AND (%(kind)s::text IS NULL OR i.kind = %(kind)s)
ORDER BY i.id
LIMIT %(limit)s
