-- Issue 11 point 1 (first part): SECURITY DEFINER functions and procedures are refused in every schema
-- of the database, not only in mospay_fn / mospay_legacy: one created in public (or anywhere) by a
-- privileged connection would let any role that can call it run SQL as its owner. Functions created by
-- an extension's own script (CREATE EXTENSION) are left to the extension.

CREATE OR REPLACE FUNCTION mospay.guard_function_schema() RETURNS event_trigger
LANGUAGE plpgsql AS $$
DECLARE
    command record;
    touched boolean := false;
BEGIN
    FOR command IN SELECT * FROM pg_event_trigger_ddl_commands() LOOP
        IF command.schema_name IN ('mospay_fn', 'mospay_legacy') THEN
            touched := true;
        END IF;
        IF command.object_type IN ('function', 'procedure') AND NOT command.in_extension
           AND EXISTS (SELECT 1 FROM pg_proc WHERE oid = command.objid AND prosecdef) THEN
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

DO $$
BEGIN
    DROP EVENT TRIGGER IF EXISTS mospay_guard_function_schema;
    CREATE EVENT TRIGGER mospay_guard_function_schema ON ddl_command_end
        WHEN TAG IN ('CREATE FUNCTION', 'ALTER FUNCTION', 'CREATE PROCEDURE', 'ALTER PROCEDURE')
        EXECUTE FUNCTION mospay.guard_function_schema();
EXCEPTION WHEN insufficient_privilege THEN
    RAISE WARNING 'event triggers need a superuser: SECURITY DEFINER functions are then refused by the drift check only';
END
$$;
