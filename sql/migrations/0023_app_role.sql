-- Issue 11 point 1 (least privilege): the switch never serves as a superuser or as the owner of its
-- schema. Roles, from most to least privileged:
--   owner            the DATABASE_URL user: owns schema mospay, runs migrations and start-up provisioning;
--   mospay_app_<db>  what every serving process and worker logs in as: DML on the switch's tables, SET ROLE
--                    to mospay_fn_owner for client-function DDL, and the four owner-side acts below;
--   mospay_fn_owner  owns client functions: CREATE in mospay_fn and mospay_legacy, nothing else;
--   mospay_t_<db>_<client>  one per client app: executes that client's functions only.
-- The app role's name and its password (sealed by the switch) are kept in mospay.app_role; the owner
-- reads them at start (gateway/bootstrap.py serving_url) and nobody else may.

CREATE TABLE mospay.app_role (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role text NOT NULL,
    password_sealed text NOT NULL
);
REVOKE ALL ON mospay.app_role FROM PUBLIC;

-- The guard now lets migrations (gateway/db/migrations.py marks their transactions) create the few
-- SECURITY DEFINER functions below in schema mospay, and refuses any function mospay_fn_owner would
-- create outside the function schemas.
CREATE OR REPLACE FUNCTION mospay.guard_function_schema() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    touched boolean := false;
    migrating boolean := coalesce(current_setting('mospay.migrating', true), '') = 'on';
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF command.schema_name IN ('mospay_fn', 'mospay_legacy') THEN
            touched := true;
        END IF;
        CONTINUE WHEN command.object_type NOT IN ('function', 'procedure') OR command.in_extension;
        IF current_user = 'mospay_fn_owner' AND command.schema_name NOT IN ('mospay_fn', 'mospay_legacy') THEN
            RAISE EXCEPTION 'client functions live in mospay_fn (or mospay_legacy), not in %: %',
                command.schema_name, command.object_identity;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_proc WHERE oid = command.objid AND prosecdef)
           AND NOT (command.schema_name = 'mospay' AND migrating) THEN
            RAISE EXCEPTION 'SECURITY DEFINER functions are not allowed in this database (%): %',
                command.schema_name, command.object_identity
                USING HINT = 'They would run with their owner''s privileges, whoever calls them.';
        END IF;
    END LOOP;
    IF touched THEN
        PERFORM pg_notify('mospay_registry', 'function');
    END IF;
END
$$;

-- mospay_fn_owner may create imported functions too (flask functions import-mospay runs as it), and
-- nothing it creates there is executable by PUBLIC: each client's role is granted them by name.
GRANT USAGE, CREATE ON SCHEMA mospay_legacy TO mospay_fn_owner;
ALTER DEFAULT PRIVILEGES FOR ROLE mospay_fn_owner IN SCHEMA mospay_legacy REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA mospay_legacy FROM PUBLIC;

DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_legacy' LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO mospay_fn_owner', fn);
    END LOOP;
END
$$;

-- The old shared sandbox role (migrations 0001-0002) is replaced by the per-client roles: it keeps
-- nothing here, and it may no longer log in (roles are cluster-wide: other databases lose it too).
DO $$
BEGIN
    REVOKE ALL ON SCHEMA mospay_fn, mospay_legacy FROM mospay_sandbox;
    REVOKE ALL ON mospay_fn.fx_rates FROM mospay_sandbox;
    ALTER ROLE mospay_sandbox NOLOGIN;
EXCEPTION WHEN undefined_object OR insufficient_privilege THEN
    NULL;
END
$$;

-- Owner-side acts the app role may ask for, each checking its arguments: SECURITY DEFINER, a fixed
-- search_path, EXECUTE for the app role only (granted by mospay.grant_app_role).

-- EXECUTE on every function of schema mospay_legacy for every client's role (after an import).
CREATE OR REPLACE FUNCTION mospay.grant_legacy_functions() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
DECLARE
    fn regprocedure;
    role_name text;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_legacy' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        FOR role_name IN SELECT c.function_role FROM mospay.clients c JOIN pg_roles r ON r.rolname = c.function_role LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
        END LOOP;
    END LOOP;
END
$$;

ALTER FUNCTION mospay.grant_client_function(text, bigint) SECURITY DEFINER SET search_path = pg_catalog, mospay;

CREATE OR REPLACE FUNCTION mospay.ensure_tenant_role(p_client bigint, p_password text, p_password_sealed text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
DECLARE
    role_name text;
    route record;
    fn text;
BEGIN
    SELECT coalesce(function_role, mospay.tenant_role_name(id)) INTO STRICT role_name
    FROM mospay.clients WHERE id = p_client FOR UPDATE;
    IF role_name !~ '^mospay_t_[0-9]+_[0-9]+$' THEN
        RAISE EXCEPTION 'not a client execution role: %', role_name;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION',
                       role_name);
    END IF;
    IF p_password IS NOT NULL THEN
        EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, p_password);
    END IF;
    EXECUTE format('ALTER ROLE %I SET search_path = mospay_fn, pg_catalog', role_name);
    EXECUTE format('ALTER ROLE %I SET statement_timeout = %L', role_name, '10s');
    EXECUTE format('GRANT USAGE ON SCHEMA mospay_fn, mospay_legacy TO %I', role_name);
    EXECUTE format('GRANT SELECT ON mospay_fn.fx_rates TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mospay_legacy TO %I', role_name);
    UPDATE mospay.clients
    SET function_role = role_name,
        function_role_password_sealed = coalesce(p_password_sealed, function_role_password_sealed)
    WHERE id = p_client;
    FOR route IN SELECT * FROM mospay.client_services WHERE client_id = p_client LOOP
        FOREACH fn IN ARRAY ARRAY[route.request_function, route.response_function, route.callback_function] LOOP
            IF fn IS NOT NULL THEN
                PERFORM mospay.grant_client_function(fn, route.id);
            END IF;
        END LOOP;
    END LOOP;
    RETURN role_name;
END
$$;

-- The function watchdog ends a call that outlived its limit: only a backend logged in as one of this
-- database's client roles, never the switch's own or anyone else's.
CREATE OR REPLACE FUNCTION mospay.terminate_client_backend(p_pid integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
    SELECT coalesce((SELECT pg_terminate_backend(a.pid)
                     FROM pg_stat_activity a JOIN mospay.clients c ON c.function_role = a.usename
                     WHERE a.pid = p_pid AND a.datname = current_database()), false)
$$;

-- The app role's privileges, granted again after every migration (new tables included).
CREATE OR REPLACE FUNCTION mospay.grant_app_role(p_role text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA mospay, mospay_fn, mospay_legacy TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('REVOKE ALL ON mospay.app_role FROM %I', p_role);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON mospay.schema_migrations FROM %I', p_role);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON mospay_fn.fx_rates TO %I', p_role);
    EXECUTE format('GRANT mospay_fn_owner TO %I', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION mospay.ensure_tenant_role(bigint, text, text), '
                   'mospay.grant_client_function(text, bigint), mospay.grant_legacy_functions(), '
                   'mospay.terminate_client_backend(integer) TO %I', p_role);
END
$$;

-- Create (or repair) the app role: LOGIN, NOINHERIT, no attributes, a member of mospay_fn_owner only.
CREATE OR REPLACE FUNCTION mospay.ensure_app_role(p_password text, p_password_sealed text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    role_name text;
BEGIN
    SELECT role INTO role_name FROM mospay.app_role;
    role_name := coalesce(role_name, format('mospay_app_%s',
                                            (SELECT oid FROM pg_database WHERE datname = current_database())));
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION',
                       role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I PASSWORD %L', role_name, p_password);
    INSERT INTO mospay.app_role (role, password_sealed) VALUES (role_name, p_password_sealed)
    ON CONFLICT (singleton) DO UPDATE SET role = EXCLUDED.role, password_sealed = EXCLUDED.password_sealed;
    PERFORM mospay.grant_app_role(role_name);
    RETURN role_name;
END
$$;

REVOKE EXECUTE ON FUNCTION mospay.ensure_tenant_role(bigint, text, text), mospay.grant_client_function(text, bigint),
    mospay.grant_legacy_functions(), mospay.terminate_client_backend(integer), mospay.grant_app_role(text),
    mospay.ensure_app_role(text, text) FROM PUBLIC;

-- A non-superuser owner can end client backends only as a member of pg_signal_backend.
DO $$
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT pg_signal_backend TO %I', current_user);
    END IF;
EXCEPTION WHEN insufficient_privilege OR invalid_grant_operation THEN
    RAISE WARNING 'the owner is not a member of pg_signal_backend: the function watchdog cannot end calls that overrun';
END
$$;
