-- Functions imported from an original MosPay installation (gateway/functions/legacy.py).

-- name: legacy_functions
SELECT p.proname AS name, oidvectortypes(p.proargtypes) AS argument_types,
       format_type(p.prorettype, NULL) AS returns, p.proretset AS returns_set, p.prosecdef AS security_definer,
       md5(pg_get_functiondef(p.oid)) AS definition_hash
FROM pg_proc p
JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'mospay_legacy'
ORDER BY p.proname

-- name: set_legacy_search_path
-- For the import's transaction only: unqualified names are created in mospay_legacy.
SELECT set_config('search_path', 'mospay_legacy, pg_catalog', true)

-- name: reset_file_settings
-- After the file: whatever it SET (session-wide, as pg_dump writes them) must not stay on the pooled connection.
RESET ALL

-- name: grant_legacy_functions
-- After an import: EXECUTE on every mospay_legacy function for each client's role, none for PUBLIC (0023).
SELECT mospay.grant_legacy_functions()
