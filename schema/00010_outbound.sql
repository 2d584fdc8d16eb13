-- +goose Up
-- A subscription's own limit on requests per second to its endpoint (0 = unlimited).
ALTER TABLE subscriptions ADD COLUMN rate_limit integer NOT NULL DEFAULT 0 CHECK (rate_limit >= 0);

-- What every worker replica must agree on about one destination (a subscription or a
-- campaign webhook): whether its endpoint asked hookflow to slow down, and when its rate
-- limit lets the next request out. A row exists only for destinations that were
-- throttled or are rate-limited, so the healthy path writes nothing here.
CREATE TABLE outbound_state (
    destination_id  uuid PRIMARY KEY,
    -- Set by a 429/502/503/504 answer: no request before this time, then one at a time
    -- until an answer is good again (throttle_level back to 0).
    throttled_until timestamptz,
    throttle_level  integer NOT NULL DEFAULT 0,
    -- The earliest time the rate limit lets the next request leave.
    rate_next_at    timestamptz
);

-- A delivery waiting for its endpoint (not an attempt): why, since when, and when it
-- expects to try again. Cleared when it is admitted or ends.
ALTER TABLE deliveries
    ADD COLUMN waiting_reason text CHECK (waiting_reason IN ('throttled', 'rate_limited', 'in_flight_cap')),
    ADD COLUMN waiting_since timestamptz,
    ADD COLUMN waiting_until timestamptz;
-- Waiters are released oldest first, per destination.
CREATE INDEX deliveries_waiting_subscription_idx ON deliveries (subscription_id, created_at, id)
    WHERE waiting_reason IS NOT NULL;
CREATE INDEX deliveries_waiting_hook_idx ON deliveries (campaign_webhook_id, created_at, id)
    WHERE waiting_reason IS NOT NULL AND campaign_webhook_id IS NOT NULL;

-- hookflow_take_rate_slot lets one request of a rate-limited subscription out, or says how
-- long the delivery must wait. Requests leave at least 1/rate apart, measured on the
-- database's clock so every worker replica shares one limit; waiting deliveries go in
-- creation order (a delivery is held back while an older one waits), and each waiter is
-- told the time of its own turn so they do not all wake at once. A waiter whose expected
-- wake is long past (its workflow ended without clearing the mark) no longer holds others.
-- +goose StatementBegin
CREATE FUNCTION hookflow_take_rate_slot(dest uuid, delivery uuid, created timestamptz, rate integer)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    spacing  interval := make_interval(secs => 1.0 / rate);
    now_at   timestamptz := clock_timestamp();
    next_at  timestamptz;
    ahead    integer;
    wait_for interval;
BEGIN
    INSERT INTO outbound_state (destination_id) VALUES (dest) ON CONFLICT (destination_id) DO NOTHING;
    SELECT rate_next_at INTO next_at FROM outbound_state WHERE destination_id = dest FOR UPDATE;
    SELECT count(*) INTO ahead FROM deliveries
     WHERE subscription_id = dest AND waiting_reason = 'rate_limited'
       AND (created_at, id) < (created, delivery) AND waiting_until > now_at - interval '30 seconds';
    IF (next_at IS NULL OR next_at <= now_at) AND ahead = 0 THEN
        UPDATE outbound_state SET rate_next_at = now_at + spacing WHERE destination_id = dest;
        UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL
         WHERE id = delivery AND waiting_reason IS NOT NULL;
        RETURN 0;
    END IF;
    wait_for := GREATEST(COALESCE(next_at, now_at) - now_at, interval '0') + spacing * ahead;
    IF wait_for <= interval '0' THEN
        wait_for := spacing;
    END IF;
    UPDATE deliveries SET waiting_reason = 'rate_limited', waiting_since = COALESCE(waiting_since, now_at),
           waiting_until = now_at + wait_for
     WHERE id = delivery;
    RETURN extract(epoch FROM wait_for);
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION hookflow_take_rate_slot(uuid, uuid, timestamptz, integer);
DROP INDEX deliveries_waiting_hook_idx;
DROP INDEX deliveries_waiting_subscription_idx;
ALTER TABLE deliveries DROP COLUMN waiting_reason, DROP COLUMN waiting_since, DROP COLUMN waiting_until;
DROP TABLE outbound_state;
ALTER TABLE subscriptions DROP COLUMN rate_limit;
