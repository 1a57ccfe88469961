-- Integrators' own portal users (issue 15 §1) and TOTP two-factor sign-in (issue 15 §4).
--
-- A client user belongs to exactly one client app and signs in at /client/ with an e-mail and a password
-- they chose through an admin's invitation link. Only a hash of the invitation token is kept (like a
-- password), so a database reader cannot accept an invitation.
--
-- Two-factor: the TOTP secret must be used again, so it is sealed (gateway/security/sealed.py), never hashed;
-- recovery codes are 80 random bits each, so a SHA-256 per code is enough, and one is spent by removing its
-- hash from the array in one statement (single use under concurrency). totp_last_step refuses a code
-- replayed within its 30-second window.

CREATE TABLE mospay.client_users (
    id                    bigserial PRIMARY KEY,
    client_id             bigint NOT NULL REFERENCES mospay.clients(id),
    email                 text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    password_hash         text,          -- NULL until the invitation is accepted
    password_version      integer NOT NULL DEFAULT 1,
    invitation_hash       text UNIQUE,   -- sha256 hex of the invitation token; NULL once accepted
    invitation_expires_at timestamptz,
    invited_by            text NOT NULL,
    active                boolean NOT NULL DEFAULT true,
    totp_secret_sealed    text,
    totp_confirmed_at     timestamptz,
    totp_last_step        bigint,
    recovery_hashes       text[] NOT NULL DEFAULT '{}',
    last_sign_in_at       timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
-- One account per address, whatever its case: sign-in names no client app.
CREATE UNIQUE INDEX client_users_email_idx ON mospay.client_users (lower(email));
CREATE INDEX client_users_client_idx ON mospay.client_users (client_id);

ALTER TABLE mospay.users
    ADD COLUMN totp_secret_sealed text,
    ADD COLUMN totp_confirmed_at  timestamptz,
    ADD COLUMN totp_last_step     bigint,
    ADD COLUMN recovery_hashes    text[] NOT NULL DEFAULT '{}';

-- The client portal's API log page and "credential last used" read one client's newest rows.
CREATE INDEX IF NOT EXISTS api_logs_client_created_idx ON mospay.api_logs (client_id, created_at);
-- (Migration 0040 makes it on (client_id, created_at, id) first, which serves the same reads.)
