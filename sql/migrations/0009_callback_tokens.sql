-- Inbound provider callbacks are authenticated by default: each route with a CALLBACK function has an
-- unguessable token that its callback URL carries (?token=…). Only the sealed token is stored (Fernet,
-- MOSPAY_SEAL_KEY): the switch must be able to show the URL again. Routes assigned before this migration
-- get theirs on the next route-table load (gateway/hot_path/registry.py).

ALTER TABLE mospay.client_services ADD COLUMN callback_token_sealed text;
