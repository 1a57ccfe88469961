-- The app role may write mospay.clients (function_role included), so the owner's SECURITY DEFINER helpers
-- (migration 0023) must not take that column's word for which role is a client's: a role name written there
-- let the app role terminate the owner's backends (terminate_client_backend) and reset the password of another
-- database's client role (ensure_tenant_role). Each helper now acts only on the role the client's id names in
-- this database (mospay.tenant_role_name), whatever the column says.

CREATE OR REPLACE FUNCTION mospay.grant_legacy_functions() RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
DECLARE
    fn regprocedure;
    role_name text;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_legacy' LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        FOR role_name IN SELECT c.function_role FROM mospay.clients c JOIN pg_roles r ON r.rolname = c.function_role
                         WHERE c.function_role = mospay.tenant_role_name(c.id) LOOP
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
        END LOOP;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION mospay.grant_client_function(p_name text, p_route bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
DECLARE
    fn regprocedure;
    role_name text;
BEGIN
    SELECT c.function_role INTO role_name
    FROM mospay.client_services cs JOIN mospay.clients c ON c.id = cs.client_id
    WHERE cs.id = p_route AND c.function_role = mospay.tenant_role_name(c.id);
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_fn' AND p.proname = p_name LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        IF role_name IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION mospay.ensure_tenant_role(p_client bigint, p_password text, p_password_sealed text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
DECLARE
    role_name text;
    route record;
    fn text;
BEGIN
    SELECT mospay.tenant_role_name(id) INTO STRICT role_name
    FROM mospay.clients WHERE id = p_client FOR UPDATE;
    -- A stored name that is not this database's role for the client (a restored dump, or a name the app role
    -- wrote) is replaced, never acted on.
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

CREATE OR REPLACE FUNCTION mospay.terminate_client_backend(p_pid integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, mospay AS $$
    SELECT coalesce((SELECT pg_terminate_backend(a.pid)
                     FROM pg_stat_activity a JOIN mospay.clients c ON c.function_role = a.usename
                     WHERE a.pid = p_pid AND a.datname = current_database()
                       AND c.function_role = mospay.tenant_role_name(c.id)), false)
$$;

REVOKE EXECUTE ON FUNCTION mospay.ensure_tenant_role(bigint, text, text), mospay.grant_client_function(text, bigint),
    mospay.grant_legacy_functions(), mospay.terminate_client_backend(integer) FROM PUBLIC;
