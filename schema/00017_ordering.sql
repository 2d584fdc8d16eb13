-- +goose Up
-- Ordered delivery. A fifo subscription's deliveries carry the ordering key of their event
-- and their place in that key's order; a delivery waiting for an earlier one names it.
ALTER TABLE subscriptions ADD COLUMN ordering text NOT NULL DEFAULT 'none' CHECK (ordering IN ('none', 'fifo'));
ALTER TABLE events ADD COLUMN ordering_key text;
ALTER TABLE deliveries
    ADD COLUMN ordering_key text,
    ADD COLUMN ordering_seq bigint,
    ADD COLUMN waiting_for uuid;

-- The place of each key's next delivery. The row is locked by the ingest that takes a
-- place until it commits, so a key's places are taken in the order their events commit:
-- a delivery can never see a later place committed before an earlier one.
CREATE TABLE ordering_keys (
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    ordering_key     text NOT NULL,
    last_seq         bigint NOT NULL,
    used_at          timestamptz NOT NULL,
    PRIMARY KEY (subscription_id, ordering_key)
);
-- Retention forgets keys unused for longer than it keeps deliveries, by scanning this
-- table: an index on used_at would make every ingest's update of a key's row a non-HOT one.

-- NOT VALID: no scan under this transaction's lock (migration 20 validates it, with a lock
-- that lets writes go on).
ALTER TABLE deliveries DROP CONSTRAINT deliveries_waiting_reason_check,
    ADD CONSTRAINT deliveries_waiting_reason_check
        CHECK (waiting_reason IN ('throttled', 'rate_limited', 'in_flight_cap', 'paused', 'ordering')) NOT VALID;

-- +goose Down
UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL WHERE waiting_reason = 'ordering';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_waiting_reason_check,
    ADD CONSTRAINT deliveries_waiting_reason_check
        CHECK (waiting_reason IN ('throttled', 'rate_limited', 'in_flight_cap', 'paused'));
DROP TABLE ordering_keys;
ALTER TABLE deliveries DROP COLUMN waiting_for, DROP COLUMN ordering_seq, DROP COLUMN ordering_key;
ALTER TABLE events DROP COLUMN ordering_key;
ALTER TABLE subscriptions DROP COLUMN ordering;
