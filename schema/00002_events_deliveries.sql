-- +goose Up
CREATE TABLE events (
    id                uuid PRIMARY KEY,
    account_id        uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event_type        text NOT NULL,
    action            text NOT NULL DEFAULT '',
    entity_type       text NOT NULL DEFAULT '',
    entity_id         text NOT NULL DEFAULT '',
    campaign_id       text NOT NULL DEFAULT '',
    data              jsonb NOT NULL DEFAULT '{}',
    changes           jsonb,
    idempotency_key   text,
    -- SHA-256 of the request body, so a key reused with another body is a conflict.
    request_hash      bytea,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX events_idempotency_idx ON events (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL;

CREATE TABLE deliveries (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    event_id         uuid NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    subscription_id  uuid REFERENCES subscriptions (id),
    event_type       text NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'retrying', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    response_code    integer,
    response_body    text NOT NULL DEFAULT '',
    last_error       text NOT NULL DEFAULT '',
    -- The exact bytes sent to the endpoint, rendered once at ingest.
    payload          text NOT NULL,
    is_test          boolean NOT NULL DEFAULT false,
    delivered_at     timestamptz,
    next_attempt_at  timestamptz,
    -- NULL until the dispatcher has started the delivery's workflow.
    dispatched_at    timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- Listings are newest first, per account, keyset-paginated on (created_at, id).
CREATE INDEX deliveries_account_created_idx ON deliveries (account_id, created_at DESC, id DESC);
CREATE INDEX deliveries_subscription_created_idx ON deliveries (subscription_id, created_at DESC, id DESC);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_undispatched_idx ON deliveries (created_at) WHERE dispatched_at IS NULL;

CREATE TABLE attempts (
    delivery_id    uuid NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    number         integer NOT NULL CHECK (number >= 1),
    started_at     timestamptz NOT NULL,
    duration_ms    bigint NOT NULL,
    response_code  integer,
    response_body  text NOT NULL DEFAULT '',
    error          text NOT NULL DEFAULT '',
    trigger        text NOT NULL,
    PRIMARY KEY (delivery_id, number)
);

-- +goose Down
DROP TABLE attempts;
DROP TABLE deliveries;
DROP TABLE events;
