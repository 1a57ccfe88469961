"""Months of realistic history for ``bench/scale.py``, written by PostgreSQL itself with ``generate_series``.

Rows look like the hot path's: the masked f-message, the downstream call and answer, the stored answer, the
stage timings and one API log row per payment. Spread evenly over ``days`` up to now (ids rise with time, as
in production), over every route of the scale clients, with 90% SUCCESS, 5% FAILED, 3% PENDING, 2% UNKNOWN
(chosen by a hash of the row number, so no client or hour is all one state).
"""

import time

import psycopg

from .common import log

# One batch of transactions: rows :first … :last of :total, spread over :days up to now().
INSERT_TRANSACTIONS = """
WITH routes AS (
    SELECT row_number() OVER (ORDER BY cs.id) - 1 AS n, cs.id AS cs_id, cs.client_id, c.app_id, s.microservice
    FROM mospay.client_services cs
    JOIN mospay.clients c ON c.id = cs.client_id
    JOIN mospay.services s ON s.id = cs.service_id
    WHERE c.app_id LIKE 'scale%%'
), rows AS (
    SELECT g, r.cs_id, r.client_id, r.app_id, r.microservice,
           CASE WHEN abs(hashint4(g)) %% 100 < 90 THEN 'SUCCESS'
                WHEN abs(hashint4(g)) %% 100 < 95 THEN 'FAILED'
                WHEN abs(hashint4(g)) %% 100 < 98 THEN 'PENDING' ELSE 'UNKNOWN' END AS status,
           (100 + abs(hashint4(g + 7)) %% 500000)::text AS amount,
           now() - make_interval(secs => %(days)s * 86400.0 * (%(total)s - g) / %(total)s) AS at
    FROM generate_series(%(first)s::int, %(last)s::int) AS g
    JOIN routes r ON r.n = abs(hashint4(g + 13)) %% (SELECT count(*) FROM routes)
)
INSERT INTO mospay.transactions (client_id, client_service_id, unique_id, payload_hash, status, request, currency,
                                 downstream_request, downstream_status, downstream_response, answer, http_status,
                                 timings, provider_ref, created_at, updated_at, completed_at)
SELECT client_id, cs_id, 'hist-' || g, decode(md5(g::text), 'hex'), status,
       jsonb_build_object('f000', microservice, 'f001', 'collection', 'f002', 'payment', 'f003', app_id,
                          'f004', amount, 'f005', 'RWF', 'f006', '2507' || lpad((g %% 100000000)::text, 8, '0'),
                          'f007', '****', 'f009', 'benchmark payment', 'f010', 'hist-' || g),
       'RWF',
       jsonb_build_object('url', 'http://127.0.0.1:5050/pay', 'method', 'POST',
                          'headers', jsonb_build_object('Content-Type', 'application/json',
                                                        'X-Reference-Id', md5(g::text)),
                          'body', jsonb_build_object('amount', amount, 'currency', 'RWF',
                                                     'payer', '2507' || lpad((g %% 100000000)::text, 8, '0'),
                                                     'reference', 'hist-' || g)),
       CASE status WHEN 'UNKNOWN' THEN NULL ELSE 200 END,
       CASE status WHEN 'UNKNOWN' THEN NULL
            ELSE jsonb_build_object('status', status, 'financial_transaction_id', (g * 7)::text) END,
       jsonb_build_object('status', status, 'code', CASE status WHEN 'SUCCESS' THEN 'SUCCESSFUL'
                                                                 WHEN 'FAILED' THEN 'PAYER_NOT_FOUND'
                                                                 WHEN 'PENDING' THEN 'ACCEPTED' ELSE 'TIMEOUT' END,
                          'message', 'Payment ' || lower(status) || '.',
                          'data', jsonb_build_object('amount', amount, 'currency', 'RWF',
                                                     'financial_transaction_id', (g * 7)::text)),
       CASE status WHEN 'SUCCESS' THEN 200 WHEN 'FAILED' THEN 200 WHEN 'PENDING' THEN 202 ELSE 502 END,
       jsonb_build_object('auth', 0.05, 'validate', 0.02, 'claim', 0.6, 'request_function', 0.4,
                          'forward', 3.2, 'response_function', 0.3, 'finish', 0.7, 'total', 5.3),
       (g * 7)::text, at, at + interval '2 seconds', at + interval '2 seconds'
FROM rows
"""

# One API log row per payment of the batch: the hot path's own log row.
INSERT_API_LOGS = """
INSERT INTO mospay.api_logs (transaction_id, client_id, method, path, http_status, error_code, duration_ms,
                             remote_addr, created_at)
SELECT id, client_id, 'POST', '/api/v1/payment/process', http_status, NULL, 5.3, '10.0.0.' || (id %% 250),
       updated_at
FROM mospay.transactions
WHERE id > %(after_id)s AND unique_id LIKE 'hist-%%'
"""

# Their keys (migration 0071): what the claim writes with each payment.
INSERT_KEYS = """
INSERT INTO mospay.payment_keys (client_id, unique_id, transaction_id, created_at)
SELECT client_id, unique_id, id, created_at
FROM mospay.transactions
WHERE id > %(after_id)s AND unique_id LIKE 'hist-%%'
"""

# Partitions for the whole loaded range first, through the owner's helper the worker's maintenance calls.
ENSURE_PARTITIONS = """
SELECT mospay.ensure_partitions(t, now() - make_interval(days => %(days)s + 1), now() + interval '14 days', 7)
FROM unnest(ARRAY['transactions', 'api_logs', 'provider_callbacks', 'audit_log']) AS t
"""

BATCH = 250_000


def load(db, rows, days=90):
    """Insert ``rows`` transactions and as many API log rows, then VACUUM ANALYZE; returns the seconds it took."""
    started = time.monotonic()
    with db.connect() as conn:
        for attempt in range(5):  # the switch's own maintenance may be attaching partitions at the same moment
            try:
                conn.execute(ENSURE_PARTITIONS, {"days": days})
                break
            except psycopg.errors.DeadlockDetected:
                if attempt == 4:
                    raise
                time.sleep(1)
        for first in range(1, rows + 1, BATCH):
            last = min(rows, first + BATCH - 1)
            after_id = conn.execute("SELECT coalesce(max(id), 0) FROM mospay.transactions").fetchone()[0]
            with conn.transaction():
                conn.execute(INSERT_TRANSACTIONS, {"first": first, "last": last, "total": rows, "days": days})
                conn.execute(INSERT_API_LOGS, {"after_id": after_id})
                conn.execute(INSERT_KEYS, {"after_id": after_id})
            log(f"history: {last:,}/{rows:,} transactions and API log rows "
                f"({time.monotonic() - started:.0f} s)")
        conn.execute("VACUUM ANALYZE mospay.transactions")
        conn.execute("VACUUM ANALYZE mospay.api_logs")
        conn.execute("VACUUM ANALYZE mospay.payment_keys")
    seconds = time.monotonic() - started
    log(f"history: {rows:,} rows loaded and analysed in {seconds:.0f} s")
    return seconds


# Summed over each table's partitions (pg_partition_tree lists none for a plain table: it is its own one leaf).
SIZES = """
SELECT t.name AS table, sum(pg_table_size(p.relid)) AS heap_and_toast, sum(pg_indexes_size(p.relid)) AS indexes,
       (SELECT count(*) FROM mospay.transactions) AS transactions
FROM unnest(ARRAY['transactions', 'api_logs', 'transaction_rollups', 'payment_keys']) AS t(name)
CROSS JOIN LATERAL (SELECT relid FROM pg_partition_tree(to_regclass('mospay.' || t.name)) WHERE isleaf
                    UNION ALL
                    SELECT c.oid FROM pg_class c WHERE c.oid = to_regclass('mospay.' || t.name) AND c.relkind = 'r'
                   ) AS p(relid)
GROUP BY t.name
ORDER BY t.name
"""


def sizes(db):
    """Bytes on disk of the big tables (heap + TOAST, indexes) and bytes per payment."""
    with db.connect() as conn:
        rows = conn.execute(SIZES).fetchall()
    count = max(rows[0][3], 1) if rows else 1
    tables = {name: {"table": table, "indexes": indexes} for name, table, indexes, _ in rows}
    per_payment = {name: round((t["table"] + t["indexes"]) / count) for name, t in tables.items()}
    table_only = {name: round(t["table"] / count) for name, t in tables.items()}
    return {"tables": tables, "bytes_per_payment": per_payment, "table_bytes_per_payment": table_only,
            "payments": count}
