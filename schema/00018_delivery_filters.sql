-- +goose NO TRANSACTION
-- Built concurrently, so a large table keeps taking writes while they are (each in its own
-- statement: CREATE INDEX CONCURRENTLY runs outside a transaction).

-- +goose Up
-- Deliveries by their last answer's code, newest first: a code that is rare or absent
-- would otherwise be looked for through every delivery of the account. Deliveries are
-- written before any answer, so ingest adds nothing to it.
CREATE INDEX CONCURRENTLY IF NOT EXISTS deliveries_account_response_code_idx
    ON deliveries (account_id, response_code, created_at DESC, id DESC) WHERE response_code IS NOT NULL;
-- The account's events newest first (the event listing), by type, and by entity: an
-- entity's events, and through them its deliveries, which carry no entity of their own.
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_account_created_idx ON events (account_id, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_account_type_idx ON events (account_id, event_type, created_at DESC, id DESC);
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_account_entity_idx ON events (account_id, entity_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX CONCURRENTLY IF EXISTS events_account_entity_idx;
DROP INDEX CONCURRENTLY IF EXISTS events_account_type_idx;
DROP INDEX CONCURRENTLY IF EXISTS events_account_created_idx;
DROP INDEX CONCURRENTLY IF EXISTS deliveries_account_response_code_idx;
