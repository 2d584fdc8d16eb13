-- +goose Up
-- Every statement that inserts deliveries wakes the dispatchers when its transaction
-- commits (NOTIFY is delivered at commit and folded per transaction), so no code path
-- can forget to, and ingest saves a round trip.
-- +goose StatementBegin
CREATE FUNCTION hookflow_notify_dispatch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('hookflow_dispatch', '');
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER deliveries_notify_dispatch AFTER INSERT ON deliveries
    FOR EACH STATEMENT EXECUTE FUNCTION hookflow_notify_dispatch();

-- +goose Down
DROP TRIGGER deliveries_notify_dispatch ON deliveries;
DROP FUNCTION hookflow_notify_dispatch();
