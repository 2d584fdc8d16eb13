-- +goose Up
-- Dashboard sign-ins. The cookie holds a random token; only its SHA-256 is kept, so a
-- leaked copy of this table cannot be replayed as a cookie.
CREATE TABLE sessions (
    id          text PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    -- Every form of the session carries this token; a cross-site form cannot know it.
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL
);
CREATE INDEX sessions_account_idx ON sessions (account_id);
-- Expired sessions are swept at each sign-in; the index keeps the sweep cheap.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- +goose Down
DROP TABLE sessions;
