-- The "Needs attention" counts (every portal page's sidebar badge, the attention page) read only this index:
-- overdue PENDING payments are counted from (updated_at, status) without visiting the table.
DROP INDEX mospay.transactions_attention_idx;
CREATE INDEX transactions_attention_idx ON mospay.transactions (updated_at) INCLUDE (status)
    WHERE status IN ('UNKNOWN', 'PENDING');
