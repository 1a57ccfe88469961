-- Alerts (issue 14 §4): rules an admin creates, evaluated by the worker on a schedule.
--
-- * alert_rules: what to watch (kind + params), where to tell (a webhook signed with a sealed secret, e-mails).
-- * alerts: one row per rule and subject (a client, a provider, or '' for the whole switch) while the
--   condition holds; a partial unique index makes "opens once" true across workers. Resolved rows stay: history.
-- * alert_events: what happened to each alert (opened, updated, resolved, acknowledged), for the portal.
-- * schedules: periodic work of the worker (evaluating alerts): one claim per period across every worker.
-- * jobs gains a kind, alert_notification (a webhook or an e-mail of an alert event): the same queue, leases
--   and retries as client callbacks; such a job names no payment or client.

CREATE TABLE mospay.alert_rules (
    id                    bigserial PRIMARY KEY,
    name                  text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 100),
    kind                  text NOT NULL CHECK (kind IN ('success_rate', 'unknown_age', 'circuit_open', 'latency_p99',
                                                        'dead_callbacks', 'reconciliation')),
    params                jsonb NOT NULL DEFAULT '{}',
    webhook_url           text,
    webhook_secret_sealed text,
    emails                text[] NOT NULL DEFAULT '{}',
    enabled               boolean NOT NULL DEFAULT true,
    created_by            text NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mospay.alerts (
    id              bigserial PRIMARY KEY,
    rule_id         bigint NOT NULL REFERENCES mospay.alert_rules(id) ON DELETE CASCADE,
    subject         text NOT NULL DEFAULT '',
    state           text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'resolved')),
    value           numeric,
    summary         text NOT NULL,
    details         jsonb NOT NULL DEFAULT '{}',
    opened_at       timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resolved_at     timestamptz,
    acknowledged_by text,
    acknowledged_at timestamptz
);
CREATE UNIQUE INDEX alerts_one_open_idx ON mospay.alerts (rule_id, subject) WHERE state = 'open';
CREATE INDEX alerts_state_idx ON mospay.alerts (state, id);

CREATE TABLE mospay.alert_events (
    id       bigserial PRIMARY KEY,
    alert_id bigint NOT NULL REFERENCES mospay.alerts(id) ON DELETE CASCADE,
    event    text NOT NULL CHECK (event IN ('opened', 'updated', 'resolved', 'acknowledged')),
    actor    text,
    value    numeric,
    summary  text,
    at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_events_alert_idx ON mospay.alert_events (alert_id, id);

CREATE TABLE mospay.schedules (
    name        text PRIMARY KEY,
    next_run_at timestamptz NOT NULL DEFAULT now(),
    last_run_at timestamptz
);

ALTER TABLE mospay.jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE mospay.jobs ADD CONSTRAINT jobs_kind_check
    CHECK (kind IN ('client_callback', 'unknown_outcome', 'alert_notification'));
ALTER TABLE mospay.jobs ALTER COLUMN transaction_id DROP NOT NULL, ALTER COLUMN client_id DROP NOT NULL;
ALTER TABLE mospay.jobs ADD CONSTRAINT jobs_payment_named
    CHECK (kind = 'alert_notification' OR (transaction_id IS NOT NULL AND client_id IS NOT NULL));
