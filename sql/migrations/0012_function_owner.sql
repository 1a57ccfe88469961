-- Issue 11 point 1 (second part): client functions are owned, and created, by mospay_fn_owner, a role
-- with CREATE in mospay_fn and nothing else (no access to the switch's schema). The switch runs
-- workbench, rollback, regenerate and assignment DDL as it (SET LOCAL ROLE around the one statement),
-- so even a statement the DDL check let through could not reach past the function schema.

DO $$
BEGIN
    CREATE ROLE mospay_fn_owner NOLOGIN NOINHERIT;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;  -- roles are cluster-wide: another database may have created it
END
$$;

DO $$
BEGIN
    EXECUTE format('GRANT mospay_fn_owner TO %I', current_user);
EXCEPTION WHEN others THEN
    NULL;  -- already a member (or a superuser, who needs no grant)
END
$$;

GRANT USAGE, CREATE ON SCHEMA mospay_fn TO mospay_fn_owner;
GRANT USAGE ON SCHEMA mospay_legacy TO mospay_fn_owner;
ALTER DEFAULT PRIVILEGES FOR ROLE mospay_fn_owner IN SCHEMA mospay_fn REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

DO $$
DECLARE
    fn regprocedure;
BEGIN
    FOR fn IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
              WHERE n.nspname = 'mospay_fn' LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO mospay_fn_owner', fn);
    END LOOP;
END
$$;
