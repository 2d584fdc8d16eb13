-- +goose Up
CREATE TABLE campaigns (
    id          uuid PRIMARY KEY,
    account_id  uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        text NOT NULL,
    -- Legacy campaign webhooks are signed with the campaign's secret.
    secret_key  text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX campaigns_account_idx ON campaigns (account_id, created_at);

CREATE TABLE campaign_webhooks (
    id           uuid PRIMARY KEY,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    kind         text NOT NULL CHECK (kind IN ('default', 'fulfilment')),
    url          text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Replaced webhooks stay as rows so their deliveries keep their subject.
    removed_at   timestamptz
);
CREATE INDEX campaign_webhooks_campaign_idx ON campaign_webhooks (campaign_id) WHERE removed_at IS NULL;

CREATE TABLE fulfilments (
    id           uuid PRIMARY KEY,
    account_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    campaign_id  uuid NOT NULL REFERENCES campaigns (id),
    reward_id    text NOT NULL,
    amount       double precision NOT NULL,
    unit         text NOT NULL,
    promoter     jsonb NOT NULL,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    date_paid    timestamptz,
    has_issues   boolean NOT NULL DEFAULT false,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX fulfilments_account_idx ON fulfilments (account_id, created_at DESC, id DESC);
CREATE INDEX fulfilments_pending_idx ON fulfilments (account_id) WHERE status = 'pending' AND NOT has_issues;

ALTER TABLE deliveries
    ADD COLUMN campaign_webhook_id uuid REFERENCES campaign_webhooks (id),
    ADD COLUMN fulfilment_id uuid REFERENCES fulfilments (id),
    -- The retry policy the delivery follows: linear (a subscription's max_retries), none
    -- (standard legacy events) or schedule (the fulfilment protocol).
    ADD COLUMN policy text NOT NULL DEFAULT 'linear' CHECK (policy IN ('linear', 'none', 'schedule'));
CREATE INDEX deliveries_fulfilment_idx ON deliveries (fulfilment_id) WHERE fulfilment_id IS NOT NULL;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN policy, DROP COLUMN fulfilment_id, DROP COLUMN campaign_webhook_id;
DROP TABLE fulfilments;
DROP TABLE campaign_webhooks;
DROP TABLE campaigns;
