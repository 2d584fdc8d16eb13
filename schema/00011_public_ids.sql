-- +goose Up
-- A campaign is named by the id the API client's own system gives it, or by the one
-- hookflow assigned (its uuid, which existing campaigns keep). Deleted campaigns keep
-- their rows for the history of their deliveries, and free their id for reuse.
ALTER TABLE campaigns
    ADD COLUMN public_id text,
    ADD COLUMN deleted_at timestamptz,
    -- Replaced signing keys that still sign until they expire, newest first (as
    -- subscriptions.retired_secrets).
    ADD COLUMN retired_secrets jsonb NOT NULL DEFAULT '[]';
UPDATE campaigns SET public_id = id::text;
ALTER TABLE campaigns ALTER COLUMN public_id SET NOT NULL;
CREATE UNIQUE INDEX campaigns_public_id_idx ON campaigns (account_id, public_id) WHERE deleted_at IS NULL;

-- An entity_id posted as a JSON integer stays one in the payload and the record.
ALTER TABLE events ADD COLUMN entity_id_number boolean NOT NULL DEFAULT false;

-- A delivery's id in the API is a number. Existing deliveries are numbered in the order
-- they were created; their workflows keep the ids they were started with
-- (delivery-<uuid>), new ones are delivery-<number>.
ALTER TABLE deliveries ADD COLUMN number bigint, ADD COLUMN workflow_id text;
UPDATE deliveries d SET number = n.rn, workflow_id = 'delivery-' || d.id
  FROM (SELECT id, row_number() OVER (ORDER BY created_at, id) AS rn FROM deliveries) n
 WHERE d.id = n.id;
CREATE SEQUENCE deliveries_number_seq OWNED BY deliveries.number;
SELECT setval('deliveries_number_seq', COALESCE((SELECT max(number) FROM deliveries), 0) + 1, false);
ALTER TABLE deliveries ALTER COLUMN number SET DEFAULT nextval('deliveries_number_seq'),
    ALTER COLUMN number SET NOT NULL;
CREATE UNIQUE INDEX deliveries_number_idx ON deliveries (number);
CREATE INDEX deliveries_campaign_webhook_created_idx ON deliveries (campaign_webhook_id, created_at DESC, id DESC)
    WHERE campaign_webhook_id IS NOT NULL;

-- +goose Down
DROP INDEX deliveries_campaign_webhook_created_idx;
DROP INDEX deliveries_number_idx;
ALTER TABLE deliveries DROP COLUMN workflow_id, DROP COLUMN number;
ALTER TABLE events DROP COLUMN entity_id_number;
DROP INDEX campaigns_public_id_idx;
ALTER TABLE campaigns DROP COLUMN retired_secrets, DROP COLUMN deleted_at, DROP COLUMN public_id;
