-- Client functions now run on connections that log in AS mospay_sandbox, so
-- a function cannot RESET ROLE its way back to the switch's privileges.
-- SECURITY DEFINER functions in mospay_fn are refused at creation, even
-- when a superuser creates them in psql, and every DDL on a function
-- announces itself so instances notice edits made outside the switch.

DO $$
BEGIN
    ALTER ROLE mospay_sandbox LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT;
    ALTER ROLE mospay_sandbox SET statement_timeout = '10s';
    ALTER ROLE mospay_sandbox SET search_path = mospay_fn, pg_catalog;
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'cannot alter role mospay_sandbox: ask a superuser to run 0002_sandbox_login.sql';
END
$$;

CREATE OR REPLACE FUNCTION mospay.guard_function_schema() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    touched boolean := false;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() WHERE schema_name = 'mospay_fn' LOOP
        touched := true;
        IF command.object_type = 'function'
           AND EXISTS (SELECT 1 FROM pg_proc WHERE oid = command.objid AND prosecdef) THEN
            RAISE EXCEPTION 'SECURITY DEFINER functions are not allowed in mospay_fn: %', command.object_identity
                USING HINT = 'They would run with their owner''s privileges, outside the sandbox.';
        END IF;
    END LOOP;
    IF touched THEN
        PERFORM pg_notify('mospay_registry', 'function');
    END IF;
END
$$;

DO $$
BEGIN
    DROP EVENT TRIGGER IF EXISTS mospay_guard_function_schema;
    CREATE EVENT TRIGGER mospay_guard_function_schema ON ddl_command_end
        WHEN TAG IN ('CREATE FUNCTION', 'ALTER FUNCTION')
        EXECUTE FUNCTION mospay.guard_function_schema();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'event triggers need a superuser: SECURITY DEFINER functions are then refused by the drift check only';
END
$$;
