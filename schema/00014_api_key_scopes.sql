-- +goose Up
-- Keys get a name and a scope. The keys minted before scopes existed could do everything,
-- so they stay full keys; their name says where they came from. The defaults stay, so a
-- replica of the previous build still creates accounts during a rolling upgrade.
ALTER TABLE api_keys
    ADD COLUMN name text NOT NULL DEFAULT 'account key',
    ADD COLUMN scope text NOT NULL DEFAULT 'full' CHECK (scope IN ('full', 'ingest', 'read'));

-- +goose Down
ALTER TABLE api_keys DROP COLUMN scope, DROP COLUMN name;
