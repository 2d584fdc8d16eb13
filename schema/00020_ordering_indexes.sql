-- +goose NO TRANSACTION
-- Built concurrently, so a large deliveries table keeps taking writes meanwhile.

-- +goose Up
-- The deliveries of an ordering key that have not ended, in their order: a delivery finds
-- the one it waits for, and an ended one the next, without reading those that ended.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_ordering_open_idx ON deliveries (subscription_id, ordering_key, ordering_seq)
    WHERE ordering_seq IS NOT NULL AND status IN ('pending', 'retrying');

-- Every existing row meets the wider check of migration 17; validating it takes only a
-- SHARE UPDATE EXCLUSIVE lock.
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_waiting_reason_check;

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS deliveries_ordering_open_idx;
