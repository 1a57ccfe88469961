-- Functions imported from an original MosPay installation keep their names and their
-- convention, (unique_id text, data_input json) RETURNS TABLE(results json), in schema
-- "mospay_legacy". The mospay_legacy template's generated functions call them, as the
-- sandbox role like every client function; SECURITY DEFINER is refused here too.

CREATE SCHEMA IF NOT EXISTS mospay_legacy;
REVOKE ALL ON SCHEMA mospay_legacy FROM PUBLIC;
GRANT USAGE ON SCHEMA mospay_legacy TO mospay_sandbox;

CREATE OR REPLACE FUNCTION mospay.guard_function_schema() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    touched boolean := false;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands()
                   WHERE schema_name IN ('mospay_fn', 'mospay_legacy') LOOP
        touched := true;
        IF command.object_type = 'function'
           AND EXISTS (SELECT 1 FROM pg_proc WHERE oid = command.objid AND prosecdef) THEN
            RAISE EXCEPTION 'SECURITY DEFINER functions are not allowed in %: %', command.schema_name,
                command.object_identity
                USING HINT = 'They would run with their owner''s privileges, outside the sandbox.';
        END IF;
    END LOOP;
    IF touched THEN
        PERFORM pg_notify('mospay_registry', 'function');
    END IF;
END
$$;
