-- Issue 13 (1,000 clients paying at once): client functions ran on one pool per client role, at most 64 open per
-- worker, so a round over 1,000 clients opened a PostgreSQL session for almost every function call. They now run
-- on one shared pool that logs in as the function runner (mospay_r_<database oid>), a role that may do one thing:
-- call each client's gate, mospay_gate.gate_<client id>, a SECURITY DEFINER function owned by that client's role.
--
-- Why the boundary holds:
--   * inside a SECURITY DEFINER function PostgreSQL refuses SET ROLE, RESET ROLE and set_config('role') ("cannot set
--     parameter role within security-definer function"), for whatever it calls too: a client's function runs as
--     its client's role and cannot become the runner or another client;
--   * the runner is a member of nothing and owns nothing: a client's role has no privileges of the runner, so it can
--     neither signal the pool's backends nor read their queries in pg_stat_activity;
--   * what a call leaves in the session (set_config, temporary tables, prepared statements, cursors WITH HOLD,
--     advisory locks, LISTEN, sequence caches) is cleared by mospay_gate.end_call in the same statement, before
--     the connection goes back to the pool; a call that fails never goes back (gateway/functions/runner.py);
--   * only the database owner may create in mospay_gate; the function guard lets a SECURITY DEFINER function live
--     there only when a client's role owns it.
-- The client roles no longer log in.

CREATE SCHEMA IF NOT EXISTS mospay_gate;
REVOKE ALL ON SCHEMA mospay_gate FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA mospay_gate REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;

-- The runner's sealed password, for the serving processes (the app role reads it; the owner writes it at start).
CREATE TABLE mospay.function_runner (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    role text NOT NULL,
    password_sealed text NOT NULL
);
REVOKE ALL ON mospay.function_runner FROM PUBLIC;

CREATE OR REPLACE FUNCTION mospay.function_runner_name() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT format('mospay_r_%s', d.oid) FROM pg_catalog.pg_database d WHERE d.datname = pg_catalog.current_database()
$$;

-- The runner in use: the one the owner recorded (a copy of this database, made with CREATE DATABASE ... TEMPLATE,
-- keeps its template's runner, as it keeps its app role), else this database's own. Only the owner writes the row.
CREATE OR REPLACE FUNCTION mospay.function_runner_role() RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, mospay, pg_temp AS $$
    SELECT coalesce((SELECT f.role FROM mospay.function_runner f
                     WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = f.role)),
                    mospay.function_runner_name())
$$;

CREATE OR REPLACE FUNCTION mospay.tenant_gate_name(p_client bigint) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT 'gate_' || p_client
$$;

-- Ends every call on the shared pool, as the runner, in the call's own statement:
-- SELECT mospay_gate.end_call(mospay_gate.gate_<id>(...), timeout). What the client's function left in the
-- session goes; the session's function timeout comes back.
CREATE OR REPLACE FUNCTION mospay_gate.end_call(p_result jsonb, p_timeout text) RETURNS jsonb
LANGUAGE plpgsql AS $$
DECLARE
    statement record;
BEGIN
    RESET ALL;
    -- Statements a function PREPAREd (SQL-level); the client's own, prepared over the protocol, stay.
    FOR statement IN SELECT name FROM pg_catalog.pg_prepared_statements WHERE from_sql LOOP
        EXECUTE pg_catalog.format('DEALLOCATE %I', statement.name);
    END LOOP;
    EXECUTE 'CLOSE ALL';
    UNLISTEN *;
    -- Client roles may not take advisory locks where the owner could revoke them (below); else they go here.
    IF pg_catalog.has_function_privilege('pg_catalog.pg_advisory_unlock_all()', 'EXECUTE') THEN
        PERFORM pg_catalog.pg_advisory_unlock_all();
    END IF;
    DISCARD TEMP;
    DISCARD SEQUENCES;
    -- RESET ALL leaves random()'s state: a function could have set the seed the next client's random() follows.
    PERFORM pg_catalog.setseed((('x' || pg_catalog.substr(pg_catalog.md5(pg_catalog.gen_random_uuid()::text), 1, 12))
                                ::bit(48)::bigint)::float8 / 281474976710656.0 * 2 - 1);
    PERFORM pg_catalog.set_config('statement_timeout', p_timeout, false);
    RETURN p_result;
END
$$;
ALTER FUNCTION mospay_gate.end_call(jsonb, text) SET search_path = pg_catalog, pg_temp;
REVOKE ALL ON FUNCTION mospay_gate.end_call(jsonb, text) FROM PUBLIC;

-- The client's gate: owned by its role, SECURITY DEFINER, executable by the runner only. It calls one of the
-- client's functions by name (EXECUTE on them is granted to that role alone: another client's is refused).
CREATE OR REPLACE FUNCTION mospay.ensure_tenant_gate(p_client bigint, p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $gate$
DECLARE
    gate text := mospay.tenant_gate_name(p_client);
    runner text := mospay.function_runner_role();
    signature text := format('mospay_gate.%I(text, jsonb[])', mospay.tenant_gate_name(p_client));
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc
                   WHERE proname = gate AND pronamespace = 'mospay_gate'::pg_catalog.regnamespace) THEN
        EXECUTE format($f$CREATE FUNCTION mospay_gate.%I(p_function text, p_args jsonb[]) RETURNS jsonb
LANGUAGE plpgsql AS $body$
DECLARE
    result jsonb;
BEGIN
    CASE pg_catalog.cardinality(p_args)
        WHEN 2 THEN
            EXECUTE pg_catalog.format('SELECT mospay_fn.%%I($1, $2)', p_function) INTO result USING p_args[1], p_args[2];
        WHEN 3 THEN
            EXECUTE pg_catalog.format('SELECT mospay_fn.%%I($1, $2, $3)', p_function) INTO result
                USING p_args[1], p_args[2], p_args[3];
    END CASE;
    -- Still as the client's role: deferred triggers fire now, and no cursor is left for the commit to run
    -- (a trigger or a cursor WITH HOLD over a temporary function would otherwise run as the runner).
    SET CONSTRAINTS ALL IMMEDIATE;
    EXECUTE 'CLOSE ALL';
    RETURN result;
END
$body$
$f$, gate);
    END IF;
    -- A non-superuser owner (a managed PostgreSQL) may hand a function to a role only as a member allowed to
    -- SET ROLE to it (PostgreSQL 16 grants the creator ADMIN alone).
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        IF pg_catalog.current_setting('server_version_num')::integer >= 160000 THEN
            IF NOT pg_catalog.pg_has_role(current_user, p_role, 'SET') THEN
                EXECUTE format('GRANT %I TO %I WITH SET TRUE', p_role, current_user);
            END IF;
        ELSIF NOT pg_catalog.pg_has_role(current_user, p_role, 'MEMBER') THEN
            EXECUTE format('GRANT %I TO %I', p_role, current_user);
        END IF;
    END IF;
    -- The new owner needs CREATE on the schema, which a client's role must never keep (it could replace its gate
    -- by one that is not SECURITY DEFINER, which would then run as the runner): granted and revoked in this one
    -- transaction, so no other session ever sees it.
    EXECUTE format('GRANT CREATE ON SCHEMA mospay_gate TO %I', p_role);
    EXECUTE format('ALTER FUNCTION %s OWNER TO %I', signature, p_role);
    EXECUTE format('REVOKE CREATE ON SCHEMA mospay_gate FROM %I', p_role);
    EXECUTE format('ALTER FUNCTION %s SET search_path = mospay_fn, pg_catalog, pg_temp', signature);
    EXECUTE format('ALTER FUNCTION %s SECURITY DEFINER', signature);
    EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', signature);
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = runner) THEN
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', signature, runner);
    END IF;
END
$gate$;
REVOKE ALL ON FUNCTION mospay.ensure_tenant_gate(bigint, text) FROM PUBLIC;

-- The guard (migration 0023) with one more exception: a SECURITY DEFINER function in mospay_gate owned by a
-- client's role. It runs with that role's rights, which whoever may call it (the runner) is meant to borrow.
CREATE OR REPLACE FUNCTION mospay.guard_function_schema() RETURNS event_trigger
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $$
DECLARE
    command record;
    touched boolean := false;
    migrating boolean := coalesce(current_setting('mospay.migrating', true), '') = 'on';
    client_role text := format('^mospay_t_%s_[0-9]+$',
                               (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()));
BEGIN
    FOR command IN SELECT * FROM pg_catalog.pg_event_trigger_ddl_commands() LOOP
        IF command.schema_name IN ('mospay_fn', 'mospay_legacy') THEN
            touched := true;
        END IF;
        CONTINUE WHEN command.object_type NOT IN ('function', 'procedure') OR command.in_extension;
        IF current_user = 'mospay_fn_owner' AND command.schema_name NOT IN ('mospay_fn', 'mospay_legacy') THEN
            RAISE EXCEPTION 'client functions live in mospay_fn (or mospay_legacy), not in %: %',
                command.schema_name, command.object_identity;
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_proc WHERE oid = command.objid AND prosecdef)
           AND NOT (command.schema_name = 'mospay' AND migrating)
           AND NOT (command.schema_name = 'mospay_gate'
                    AND EXISTS (SELECT 1 FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_roles r ON r.oid = p.proowner
                                WHERE p.oid = command.objid AND r.rolname ~ client_role
                                  AND NOT r.rolsuper AND NOT r.rolinherit AND NOT r.rolcanlogin)) THEN
            RAISE EXCEPTION 'SECURITY DEFINER functions are not allowed in this database (%): %',
                command.schema_name, command.object_identity
                USING HINT = 'They would run with their owner''s privileges, whoever calls them.';
        END IF;
    END LOOP;
    IF touched THEN
        PERFORM pg_catalog.pg_notify('mospay_registry', 'function');
    END IF;
END
$$;

-- The client's role: no longer a login (its functions run through its gate), a gate of its own.
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
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION',
                       role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I NOLOGIN NOINHERIT PASSWORD NULL', role_name);
    EXECUTE format('ALTER ROLE %I SET search_path = mospay_fn, pg_catalog', role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA mospay_fn, mospay_legacy TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA mospay_legacy TO %I', role_name);
    UPDATE mospay.clients SET function_role = role_name, function_role_password_sealed = NULL WHERE id = p_client;
    FOR route IN SELECT * FROM mospay.client_services WHERE client_id = p_client LOOP
        FOREACH fn IN ARRAY ARRAY[route.request_function, route.response_function, route.callback_function,
                                  route.status_function] LOOP
            IF fn IS NOT NULL THEN
                PERFORM mospay.grant_client_function(fn, route.id);
            END IF;
        END LOOP;
    END LOOP;
    PERFORM mospay.ensure_tenant_gate(p_client, role_name);
    RETURN role_name;
END
$$;

-- No temporary objects for client roles: the database's TEMPORARY goes from PUBLIC to the app role (which
-- reconciles statements through temporary tables). A function's temporary functions kept their compiled code in the
-- shared backend after DISCARD TEMP (hundreds of MB per call), its temporary buffers kept a size it chose, and a
-- temporary table with a deferred trigger is the one object whose code runs at commit, after the gate. Run by the
-- owner at every start (gateway/bootstrap.py): a database's privileges are not copied with it (CREATE DATABASE
-- ... TEMPLATE, pg_dump without --create).
CREATE OR REPLACE FUNCTION mospay.restrict_temporary() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $$
BEGIN
    EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
    IF EXISTS (SELECT 1 FROM mospay.app_role a JOIN pg_catalog.pg_roles r ON r.rolname = a.role) THEN
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO %I', current_database(),
                       (SELECT role FROM mospay.app_role));
    END IF;
END
$$;
REVOKE ALL ON FUNCTION mospay.restrict_temporary() FROM PUBLIC;

-- The runner: LOGIN, NOINHERIT, a member of nothing; USAGE on mospay_gate and EXECUTE on the gates, nothing else.
-- Called by the owner at start (gateway/bootstrap.py), like ensure_app_role.
CREATE OR REPLACE FUNCTION mospay.ensure_function_runner(p_password text, p_password_sealed text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $$
DECLARE
    role_name text := mospay.function_runner_role();
    gate record;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = role_name) THEN
        EXECUTE format('CREATE ROLE %I LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION',
                       role_name);
    END IF;
    EXECUTE format('ALTER ROLE %I LOGIN NOINHERIT PASSWORD %L', role_name, p_password);
    EXECUTE format('ALTER ROLE %I SET search_path = pg_catalog', role_name);
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO %I', current_database(), role_name);
    EXECUTE format('GRANT USAGE ON SCHEMA mospay_gate TO %I', role_name);
    EXECUTE format('GRANT EXECUTE ON FUNCTION mospay_gate.end_call(jsonb, text) TO %I', role_name);
    BEGIN  -- only a superuser owner revoked it from PUBLIC (below); end_call skips it otherwise
        EXECUTE format('GRANT EXECUTE ON FUNCTION pg_catalog.pg_advisory_unlock_all() TO %I', role_name);
    EXCEPTION WHEN insufficient_privilege THEN
        NULL;
    END;
    FOR gate IN SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
                WHERE p.pronamespace = 'mospay_gate'::pg_catalog.regnamespace AND p.proname LIKE 'gate\_%' LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', gate.signature, role_name);
    END LOOP;
    PERFORM mospay.restrict_temporary();
    INSERT INTO mospay.function_runner (role, password_sealed) VALUES (role_name, p_password_sealed)
    ON CONFLICT (singleton) DO UPDATE SET role = EXCLUDED.role, password_sealed = EXCLUDED.password_sealed;
    RETURN role_name;
END
$$;
REVOKE ALL ON FUNCTION mospay.ensure_function_runner(text, text) FROM PUBLIC;

-- The watchdog ends a call that outlived its limit: now on a runner's backend (or a client role's, from before).
CREATE OR REPLACE FUNCTION mospay.terminate_client_backend(p_pid integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, mospay, pg_temp AS $$
    SELECT coalesce((SELECT pg_catalog.pg_terminate_backend(a.pid)
                     FROM pg_catalog.pg_stat_activity a
                     WHERE a.pid = p_pid AND a.datname = pg_catalog.current_database()
                       AND (a.usename = mospay.function_runner_role()
                            OR EXISTS (SELECT 1 FROM mospay.clients c
                                       WHERE c.function_role = a.usename
                                         AND c.function_role = mospay.tenant_role_name(c.id)))), false)
$$;

-- The app role reads the runner's row, never writes it.
CREATE OR REPLACE FUNCTION mospay.grant_app_role(p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA mospay, mospay_fn, mospay_legacy TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('REVOKE ALL ON mospay.app_role FROM %I', p_role);
    EXECUTE format('REVOKE INSERT, UPDATE, DELETE ON mospay.schema_migrations, mospay.function_runner FROM %I',
                   p_role);
    EXECUTE format('GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA mospay TO %I', p_role);
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON mospay_fn.fx_rates TO %I', p_role);
    EXECUTE format('GRANT mospay_fn_owner TO %I', p_role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION mospay.ensure_tenant_role(bigint, text, text), '
                   'mospay.grant_client_function(text, bigint), mospay.grant_legacy_functions(), '
                   'mospay.terminate_client_backend(integer), '
                   'mospay.ensure_partitions(text, timestamptz, timestamptz, integer), '
                   'mospay.drop_partition(text, text, integer) TO %I', p_role);
    PERFORM mospay.grant_advisory_locks(p_role);
END
$$;

-- Advisory locks and large objects are PostgreSQL's to everyone (PUBLIC) by default. On the shared pool a client's
-- function could take thousands of session advisory locks (the lock table is the whole cluster's: ~12,800 made new
-- connections fail with "out of shared memory") or squat the switch's own keys (migrations, partition maintenance),
-- and could keep a PIN for ever in a large object. Only a superuser may revoke them (they belong to pg_catalog);
-- the switch's roles get the advisory locks back by name.
CREATE OR REPLACE FUNCTION mospay.grant_advisory_locks(p_role text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, mospay, pg_temp AS $$
DECLARE
    fn record;
BEGIN
    FOR fn IN SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname LIKE 'pg\_%advisory\_%' LOOP
        BEGIN
            EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', fn.signature, p_role);
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;  -- a non-superuser owner revoked nothing either
        END;
    END LOOP;
END
$$;
REVOKE ALL ON FUNCTION mospay.grant_advisory_locks(text) FROM PUBLIC;

DO $$
DECLARE
    fn record;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) THEN
        RAISE WARNING 'advisory locks and large objects stay open to client functions: revoking them needs a superuser';
        RETURN;
    END IF;
    FOR fn IN SELECT p.oid::regprocedure AS signature FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'pg_catalog'::regnamespace
                AND (p.proname LIKE 'pg\_%advisory\_%' OR p.proname LIKE 'lo\_%'
                     OR p.proname IN ('loread', 'lowrite')) LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', fn.signature);
    END LOOP;
    IF EXISTS (SELECT 1 FROM mospay.app_role) THEN
        PERFORM mospay.grant_advisory_locks((SELECT role FROM mospay.app_role));
    END IF;
END
$$;

-- Every client gets its gate now; the runner gets EXECUTE on them when the owner makes it at start.
DO $$
DECLARE
    client record;
BEGIN
    FOR client IN SELECT id FROM mospay.clients ORDER BY id LOOP
        PERFORM mospay.ensure_tenant_role(client.id, NULL, NULL);
    END LOOP;
END
$$;
