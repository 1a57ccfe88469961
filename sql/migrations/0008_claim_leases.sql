-- A claim carries a lease: which worker holds the payment and until when.
--
-- Recovery settles only payments whose lease has expired, so it can never
-- race a worker that is still forwarding. The lease is the longest the
-- payment can take (both functions, every allowed attempt at the longest
-- timeout, pool waits) plus a grace, fixed at claim time: no renewal write
-- is needed on the hot path. Claims made before this migration have no
-- lease; their last update stands in for it.

ALTER TABLE mospay.transactions ADD COLUMN lease_owner text;
ALTER TABLE mospay.transactions ADD COLUMN lease_expires_at timestamptz;
