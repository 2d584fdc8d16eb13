-- +goose Up
-- Portal links open an account's dashboard without an API key, once. The link carries a
-- random token; only its SHA-256 is kept, so a leaked copy of this table opens nothing.
CREATE TABLE portal_links (
    id          text PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    read_only   boolean NOT NULL,
    brand_name  text NOT NULL DEFAULT '',
    logo_url    text NOT NULL DEFAULT '',
    -- The key that minted the link (none for the admin's): revoked, it opens nothing.
    api_key_id  text REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    -- Set by the one redemption that succeeds; a link with it set opens nothing more.
    used_at     timestamptz
);
CREATE INDEX portal_links_account_idx ON portal_links (account_id);
-- Expired links are swept when a link is minted; the index keeps the sweep cheap.
CREATE INDEX portal_links_expires_idx ON portal_links (expires_at);

-- Sessions say what opened them: an API key (which ends them when it is revoked) or a
-- portal link (whose branding their pages show), and whether they may change anything.
-- Sessions signed in before keep no key and run to their end as they were.
ALTER TABLE sessions
    ADD COLUMN kind text NOT NULL DEFAULT 'key' CHECK (kind IN ('key', 'portal')),
    ADD COLUMN read_only boolean NOT NULL DEFAULT false,
    ADD COLUMN brand_name text NOT NULL DEFAULT '',
    ADD COLUMN logo_url text NOT NULL DEFAULT '',
    ADD COLUMN api_key_id text REFERENCES api_keys (id) ON DELETE CASCADE;
CREATE INDEX sessions_api_key_idx ON sessions (api_key_id) WHERE api_key_id IS NOT NULL;

-- +goose Down
DROP INDEX sessions_api_key_idx;
ALTER TABLE sessions DROP COLUMN api_key_id, DROP COLUMN logo_url, DROP COLUMN brand_name,
    DROP COLUMN read_only, DROP COLUMN kind;
DROP TABLE portal_links;
