-- +goose Up
-- A dispatcher claims undispatched deliveries for a short lease before it starts their
-- workflows, so several workers do not all start the same ones; a claim left by a
-- process that died expires and the delivery is picked up again.
ALTER TABLE deliveries ADD COLUMN dispatch_lease_until timestamptz;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN dispatch_lease_until;
