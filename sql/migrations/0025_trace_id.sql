-- Issue 15 §4: the OpenTelemetry trace of a payment (when tracing is on), shown on its page.
ALTER TABLE mospay.transactions ADD COLUMN trace_id text;
