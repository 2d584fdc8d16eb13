-- +goose NO TRANSACTION
-- Built concurrently, so a large table keeps taking writes while they are (each in its own
-- statement: CREATE INDEX CONCURRENTLY runs outside a transaction).

-- +goose Up
-- A recovery's deliveries, and those still waiting for its attempt.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_recovery_idx ON deliveries (recovery_id) WHERE recovery_id IS NOT NULL;
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_recovery_pending_idx ON deliveries (recovery_id) WHERE recovery_pending;
-- Retention deletes the oldest events first.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_created_idx ON events (created_at);
-- What the dispatcher may start: not yet started, and not held by a pause (a delivery
-- created while its subscription is paused waits without a workflow until the resume
-- releases it).
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_dispatchable_idx ON deliveries (created_at)
    WHERE dispatched_at IS NULL AND (waiting_reason IS NULL OR waiting_until IS NULL);
DROP INDEX CONCURRENTLY IF EXISTS deliveries_undispatched_idx;

-- +goose Down
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_undispatched_idx ON deliveries (created_at) WHERE dispatched_at IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_dispatchable_idx;
DROP INDEX CONCURRENTLY IF EXISTS events_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_recovery_pending_idx;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_recovery_idx;
