-- A grant on a table lives in the table's pg_class row, which PostgreSQL cannot TOAST: each client role's own
-- SELECT on mospay_fn.fx_rates made that row grow until, at about 2,400 client apps, the next grant failed ("row is
-- too big") and no further client could be onboarded (found by bench/run.py's 10,000-client step). The rates go to
-- PUBLIC instead: reaching the table still takes USAGE on schema mospay_fn, which only the client roles, the app
-- role and mospay_fn_owner have (schema grants live in pg_namespace, which does TOAST), so who can read the rates
-- is unchanged. The per-client grants are revoked and ensure_tenant_role no longer makes them.
GRANT SELECT ON mospay_fn.fx_rates TO PUBLIC;

DO $$
DECLARE
    grantee text;
BEGIN
    FOR grantee IN SELECT a.grantee::regrole::text
                   FROM pg_catalog.pg_class c, LATERAL pg_catalog.aclexplode(c.relacl) AS a
                   WHERE c.oid = 'mospay_fn.fx_rates'::regclass AND a.grantee <> 0 AND a.privilege_type = 'SELECT'
                     AND a.grantee::regrole::text LIKE 'mospay\_t\_%' LOOP
        EXECUTE format('REVOKE SELECT ON mospay_fn.fx_rates FROM %s', grantee);
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION mospay.ensure_tenant_role(p_client bigint, p_password text, p_password_sealed text)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, mospay, pg_temp AS $$
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
