-- +goose Up
-- The open-deliveries gauges count pending and retrying deliveries on every scrape; a
-- partial index keeps that cheap however many finished deliveries pile up.
CREATE INDEX deliveries_open_idx ON deliveries (status) WHERE status IN ('pending', 'retrying');

-- +goose Down
DROP INDEX deliveries_open_idx;
