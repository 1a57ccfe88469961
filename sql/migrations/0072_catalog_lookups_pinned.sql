-- The switch's own functions in schema mospay resolve names with pg_temp searched last. Without pg_temp in a
-- search_path, PostgreSQL looks in the session's temporary schema first for relations: a role that may create
-- temporary objects (the app role, which also may SET ROLE mospay_fn_owner) could put a view named pg_proc or
-- pg_class there, and the event trigger's "no SECURITY DEFINER" check (migration 0023) or a definer helper would
-- read it instead of the catalogue. Functions without a search_path take the one below; the others keep theirs,
-- with pg_temp added at its end.
DO $$
DECLARE
    fn record;
BEGIN
    FOR fn IN
        SELECT p.oid::regprocedure AS signature,
               (SELECT substr(c, length('search_path=') + 1) FROM unnest(p.proconfig) AS c
                WHERE c LIKE 'search_path=%') AS path
        FROM pg_catalog.pg_proc p
        WHERE p.pronamespace = 'mospay'::regnamespace
    LOOP
        CONTINUE WHEN fn.path LIKE '%pg_temp%';
        EXECUTE format('ALTER FUNCTION %s SET search_path = %s', fn.signature,
                       coalesce(fn.path || ', pg_temp', 'pg_catalog, mospay, pg_temp'));
    END LOOP;
END
$$;
