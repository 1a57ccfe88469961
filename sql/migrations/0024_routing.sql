-- Issue 15 §2: which routing rule chose which provider for a payment, and every failover.
-- client_services_id becomes the route that was finally used (follow-ups and callbacks belong to it).
ALTER TABLE mospay.transactions ADD COLUMN routing jsonb;
