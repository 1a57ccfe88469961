-- A client's name is unique, case-insensitively: "Kigali Shop" and "kigali shop" are one shop to an
-- operator, and its app_id is derived from it. Clients created before this rule keep everything but
-- their display name: in each group of equal names the oldest keeps it, every other one gets its
-- app_id appended ("Kigali Shop (kigalishop2)"), recorded in the audit log; then the index is built.

WITH ranked AS (
    SELECT id, app_id, name,
           row_number() OVER (PARTITION BY lower(name) ORDER BY created_at, id) AS rank
    FROM mospay.clients
), renamed AS (
    UPDATE mospay.clients c
    SET name = left(r.name, 200 - length(r.app_id) - 3) || ' (' || r.app_id || ')', updated_at = now()
    FROM ranked r
    WHERE c.id = r.id AND r.rank > 1
    RETURNING c.app_id, r.name AS old_name, c.name AS new_name
)
INSERT INTO mospay.audit_log (actor, action, target, before, after)
SELECT 'migration 0007', 'client.rename', app_id, jsonb_build_object('name', old_name),
       jsonb_build_object('name', new_name)
FROM renamed;

CREATE UNIQUE INDEX clients_name_lower_key ON mospay.clients (lower(name));
