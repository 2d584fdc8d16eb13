-- +goose Up
CREATE TABLE accounts (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- An API key is "hfk_<key_id>_<secret>". Only a SHA-256 of the secret is kept; the key id
-- finds the row so the hash comparison can be constant-time.
CREATE TABLE api_keys (
    id          text PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    secret_hash bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
CREATE INDEX api_keys_account_idx ON api_keys (account_id);

CREATE TABLE subscriptions (
    id                          uuid PRIMARY KEY,
    account_id                  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    url                         text NOT NULL,
    event_types                 text[] NOT NULL,
    campaign_ids                text[] NOT NULL DEFAULT '{}',
    description                 text NOT NULL DEFAULT '',
    active                      boolean NOT NULL DEFAULT true,
    timeout_seconds             integer NOT NULL CHECK (timeout_seconds BETWEEN 1 AND 120),
    max_retries                 integer NOT NULL CHECK (max_retries BETWEEN 0 AND 10),
    headers                     jsonb NOT NULL DEFAULT '{}',
    secret_key                  text NOT NULL,
    previous_secret_key         text,
    previous_secret_expires_at  timestamptz,
    disabled_reason             text NOT NULL DEFAULT '',
    created_at                  timestamptz NOT NULL DEFAULT now(),
    updated_at                  timestamptz NOT NULL DEFAULT now(),
    -- Deleted subscriptions stay as rows so their delivery history keeps its subject.
    deleted_at                  timestamptz
);
CREATE INDEX subscriptions_account_idx ON subscriptions (account_id, created_at) WHERE deleted_at IS NULL;

-- +goose Down
DROP TABLE subscriptions;
DROP TABLE api_keys;
DROP TABLE accounts;
