-- Issue 11 point 2: each client app runs its functions under a login role of its own,
-- mospay_t_<database oid>_<client id> (roles are cluster-wide: the database's oid keeps two
-- databases on one server apart). The role is NOINHERIT and a member of nothing, so a function
-- can neither SET ROLE to another tenant's role nor signal another tenant's backends; it may
-- EXECUTE only its own client's functions (nothing in mospay_fn is executable by PUBLIC).

ALTER TABLE mospay.clients
    ADD COLUMN function_role text UNIQUE,
    ADD COLUMN function_role_password_sealed text;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA mospay_fn FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA mospay_fn REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

CREATE OR REPLACE FUNCTION mospay.tenant_role_name(p_client bigint) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT format('mospay_t_%s_%s', d.oid, p_client) FROM pg_database d WHERE d.datname = current_database()
$$;

-- Grant EXECUTE on one function in mospay_fn to the role of the client whose route
-- (client_services.id = p_route) it serves, and to nobody else. Called after every
-- CREATE [OR REPLACE] the switch runs (generation, workbench save, rollback, regenerate,
-- drift record) and for every function of a client when its role is (re)made.
CREATE OR REPLACE FUNCTION mospay.grant_client_function(p_name text, p_route bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    fn regprocedure;
    role_name text;
BEGIN
    SELECT c.function_role INTO role_name
    FROM mospay.client_services cs JOIN mospay.clients c ON c.id = cs.client_id
    WHERE cs.id = p_route;
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_fn' AND p.proname = p_name LOOP
        EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', fn);
        IF role_name IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role_name) THEN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn, role_name);
        END IF;
    END LOOP;
END
$$;

-- Create (or repair) a client's execution role: LOGIN, NOINHERIT, no membership, no attributes;
-- USAGE on the function schemas, SELECT on the shared rates, EXECUTE on its own functions.
-- p_password (NULL: keep the current one) is what PostgreSQL checks where it asks for passwords;
-- the switch keeps it sealed in clients.function_role_password_sealed.
CREATE OR REPLACE FUNCTION mospay.ensure_tenant_role(p_client bigint, p_password text, p_password_sealed text)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    role_name text;
    route record;
    fn text;
BEGIN
    SELECT coalesce(function_role, mospay.tenant_role_name(id)) INTO STRICT role_name
    FROM mospay.clients WHERE id = p_client FOR UPDATE;
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
