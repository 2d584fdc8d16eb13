-- +goose Up
-- Dispatchers are woken by a NOTIFY the store sends after an insert of deliveries commits,
-- coalesced per process (see store.DB.wakeDispatchers), instead of by an insert trigger: a
-- transaction that notifies holds PostgreSQL's notify lock through its commit, so the
-- trigger made every ingest commit wait on the one before it (ingest ran about a third
-- faster without it). A wake-up lost to a crash is made good by the dispatchers' sweep.
DROP TRIGGER deliveries_notify_dispatch ON deliveries;
DROP FUNCTION hookflow_notify_dispatch();

-- +goose Down
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
