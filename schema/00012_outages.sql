-- +goose Up
-- A paused subscription keeps receiving deliveries and holds them: nothing is sent until
-- it is resumed. failing_since and failing_attempts are the run of failed attempts since
-- its last success, which pauses it when it lasts too long (HOOKFLOW_PAUSE_AFTER).
ALTER TABLE subscriptions
    ADD COLUMN paused_at timestamptz,
    ADD COLUMN paused_reason text NOT NULL DEFAULT '',
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN failing_attempts integer NOT NULL DEFAULT 0;

-- A 410 Gone used to turn a subscription off, after which its events were dropped; it now
-- pauses it. Subscriptions the previous build turned off that way are paused instead, so
-- from now on their events are held rather than lost.
UPDATE subscriptions SET active = true, paused_at = updated_at, paused_reason = disabled_reason, disabled_reason = ''
 WHERE NOT active AND deleted_at IS NULL AND disabled_reason LIKE 'the endpoint answered 410 Gone%';

-- NOT VALID, then validated: the table is not locked against writes while its rows are
-- checked.
ALTER TABLE deliveries DROP CONSTRAINT deliveries_waiting_reason_check,
    ADD CONSTRAINT deliveries_waiting_reason_check
        CHECK (waiting_reason IN ('throttled', 'rate_limited', 'in_flight_cap', 'paused')) NOT VALID;
ALTER TABLE deliveries VALIDATE CONSTRAINT deliveries_waiting_reason_check;

-- A recovery retries a subscription's failed deliveries created in [since, until).
CREATE TABLE recoveries (
    id               uuid PRIMARY KEY,
    account_id       uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    subscription_id  uuid NOT NULL REFERENCES subscriptions (id),
    since            timestamptz NOT NULL,
    until            timestamptz,
    status           text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'completed')),
    total            integer NOT NULL,
    -- The last delivery taken, so each step reads on from there.
    cursor_at        timestamptz,
    cursor_id        uuid,
    created_at       timestamptz NOT NULL,
    completed_at     timestamptz
);
CREATE INDEX recoveries_subscription_idx ON recoveries (subscription_id, created_at DESC);

-- The recovery a delivery was last taken by, and whether its attempt is still to come:
-- a delivery is retried once per recovery however often its start is repeated.
ALTER TABLE deliveries
    ADD COLUMN recovery_id uuid,
    ADD COLUMN recovery_pending boolean NOT NULL DEFAULT false;

-- The W3C traceparent of the request that created a delivery (NULL unless tracing is on),
-- so the dispatcher's span joins its trace.
ALTER TABLE deliveries ADD COLUMN trace_parent text;

-- +goose Down
ALTER TABLE deliveries DROP COLUMN trace_parent;
ALTER TABLE deliveries DROP COLUMN recovery_pending, DROP COLUMN recovery_id;
DROP TABLE recoveries;
UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL WHERE waiting_reason = 'paused';
ALTER TABLE deliveries DROP CONSTRAINT deliveries_waiting_reason_check,
    ADD CONSTRAINT deliveries_waiting_reason_check
        CHECK (waiting_reason IN ('throttled', 'rate_limited', 'in_flight_cap'));
ALTER TABLE subscriptions DROP COLUMN failing_attempts, DROP COLUMN failing_since,
    DROP COLUMN paused_reason, DROP COLUMN paused_at;
