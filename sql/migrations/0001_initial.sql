-- The switch's own tables live in schema "mospay"; client functions live in
-- "mospay_fn" and run as the NOLOGIN role "mospay_sandbox", which has no
-- privilege on "mospay" at all.

CREATE SCHEMA IF NOT EXISTS mospay;
CREATE SCHEMA IF NOT EXISTS mospay_fn;

DO $$
BEGIN
    CREATE ROLE mospay_sandbox NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database may have created it
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT mospay_sandbox TO %I', current_user);
EXCEPTION WHEN others THEN
    NULL;  -- already a member (or a superuser, who needs no grant)
END
$$;

REVOKE ALL ON SCHEMA mospay FROM PUBLIC;
REVOKE ALL ON SCHEMA mospay_fn FROM PUBLIC;
GRANT USAGE ON SCHEMA mospay_fn TO mospay_sandbox;

CREATE TABLE mospay.users (
    id                   bigserial PRIMARY KEY,
    username             text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash        text NOT NULL,
    role                 text NOT NULL CHECK (role IN ('admin', 'dba', 'viewer')),
    must_change_password boolean NOT NULL DEFAULT false,
    password_version     integer NOT NULL DEFAULT 1,
    active               boolean NOT NULL DEFAULT true,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mospay.clients (
    id                 bigserial PRIMARY KEY,
    app_id             text NOT NULL UNIQUE CHECK (app_id ~ '^[a-z][a-z0-9_]*$' AND length(app_id) <= 40),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    username           text NOT NULL UNIQUE,
    password_hash      text NOT NULL,
    credential_version integer NOT NULL DEFAULT 1,
    callback_url       text,
    active             boolean NOT NULL DEFAULT true,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE mospay.services (
    id           bigserial PRIMARY KEY,
    microservice text NOT NULL CHECK (microservice ~ '^[a-z][a-z0-9_]*$'),
    service      text NOT NULL CHECK (service ~ '^[a-z][a-z0-9_]*$'),
    route        text NOT NULL CHECK (route ~ '^[a-z][a-z0-9_]*$'),
    url          text NOT NULL,
    method       text NOT NULL DEFAULT 'POST',
    timeout_ms   integer NOT NULL,
    template     text NOT NULL,
    fields       jsonb NOT NULL DEFAULT '[]',
    settings     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (microservice, service, route)
);

CREATE TABLE mospay.client_services (
    id                bigserial PRIMARY KEY,
    client_id         bigint NOT NULL REFERENCES mospay.clients(id),
    service_id        bigint NOT NULL REFERENCES mospay.services(id),
    request_function  text NOT NULL UNIQUE,
    response_function text NOT NULL UNIQUE,
    enabled           boolean NOT NULL DEFAULT true,
    settings          jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (client_id, service_id)
);

CREATE TABLE mospay.function_versions (
    id                bigserial PRIMARY KEY,
    client_service_id bigint NOT NULL REFERENCES mospay.client_services(id),
    function_name     text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('request', 'response')),
    version           integer NOT NULL,
    source            text NOT NULL,
    source_hash       text NOT NULL,
    created_by        text NOT NULL,
    note              text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (function_name, version)
);

-- One row per accepted payment. The unique constraint on (client_id,
-- unique_id) is what makes "processed at most once" true across workers
-- and instances: the row is committed before anything is forwarded.
CREATE TABLE mospay.transactions (
    id                  bigserial PRIMARY KEY,
    ref                 uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    client_id           bigint NOT NULL REFERENCES mospay.clients(id),
    client_service_id   bigint NOT NULL REFERENCES mospay.client_services(id),
    unique_id           text NOT NULL,
    payload_hash        bytea NOT NULL,
    status              text NOT NULL CHECK (status IN
                          ('RECEIVED', 'SUCCESS', 'FAILED', 'PENDING', 'UNKNOWN', 'REJECTED')),
    request             jsonb NOT NULL,
    downstream_request  jsonb,
    downstream_status   integer,
    downstream_response jsonb,
    answer              jsonb,
    http_status         integer,
    error_code          text,
    error_detail        text,
    timings             jsonb,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    completed_at        timestamptz,
    UNIQUE (client_id, unique_id)
);
CREATE INDEX transactions_created_at_idx ON mospay.transactions (created_at);
CREATE INDEX transactions_open_idx ON mospay.transactions (updated_at)
    WHERE status = 'RECEIVED';

CREATE TABLE mospay.api_logs (
    id             bigserial PRIMARY KEY,
    transaction_id bigint REFERENCES mospay.transactions(id),
    client_id      bigint REFERENCES mospay.clients(id),
    method         text NOT NULL,
    path           text NOT NULL,
    http_status    integer NOT NULL,
    error_code     text,
    duration_ms    numeric(10, 3) NOT NULL,
    remote_addr    text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_logs_created_at_idx ON mospay.api_logs (created_at);

CREATE TABLE mospay.audit_log (
    id         bigserial PRIMARY KEY,
    actor      text NOT NULL,
    action     text NOT NULL,
    target     text,
    before     jsonb,
    after      jsonb,
    created_at timestamptz NOT NULL DEFAULT now()
);
