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
    -- The rate limit's next free turn, and when its last request left.
    rate_next_at    timestamptz,
    rate_last_at    timestamptz
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
-- database's clock so every worker replica shares one limit. A delivery that must wait
-- reserves a turn (waiting_until): turns are handed out one spacing apart and in creation
-- order (a delivery older than some already holding turns takes the earliest of theirs,
-- and they move back one), so each waiter wakes at its own turn instead of all retrying
-- at once. At its turn a delivery still goes only once a full spacing has passed since
-- the last request, so late wakes never bring two requests closer than 1/rate; the
-- caller waits out such a short remainder in place rather than on another timer, so
-- lateness does not add up from one turn to the next.
-- +goose StatementBegin
CREATE FUNCTION hookflow_take_rate_slot(dest uuid, delivery uuid, created timestamptz, rate integer)
RETURNS double precision LANGUAGE plpgsql AS $$
DECLARE
    spacing  interval := make_interval(secs => 1.0 / rate);
    now_at   timestamptz := clock_timestamp();
    next_at  timestamptz;
    last_at  timestamptz;
    my_turn  timestamptz;
    turn     timestamptz;
BEGIN
    INSERT INTO outbound_state (destination_id) VALUES (dest) ON CONFLICT (destination_id) DO NOTHING;
    SELECT rate_next_at, rate_last_at INTO next_at, last_at FROM outbound_state WHERE destination_id = dest FOR UPDATE;
    SELECT waiting_until INTO my_turn FROM deliveries WHERE id = delivery AND waiting_reason = 'rate_limited';
    IF my_turn IS NULL AND (next_at IS NULL OR next_at <= now_at) AND (last_at IS NULL OR last_at + spacing <= now_at) THEN
        -- Nobody holds a turn: go now.
        UPDATE outbound_state SET rate_last_at = now_at, rate_next_at = now_at + spacing WHERE destination_id = dest;
        UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL
         WHERE id = delivery AND waiting_reason IS NOT NULL;
        RETURN 0;
    END IF;
    IF my_turn IS NOT NULL THEN
        IF my_turn <= now_at AND (last_at IS NULL OR last_at + spacing <= now_at) THEN
            UPDATE outbound_state SET rate_last_at = now_at WHERE destination_id = dest;
            UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL WHERE id = delivery;
            RETURN 0;
        END IF;
        RETURN extract(epoch FROM GREATEST(my_turn, last_at + spacing) - now_at);
    END IF;
    -- Reserve a turn: the next free one, or, when younger deliveries already hold turns,
    -- the earliest of theirs (they each move back one).
    turn := GREATEST(next_at, last_at + spacing, now_at);
    SELECT min(waiting_until) INTO my_turn FROM deliveries
     WHERE subscription_id = dest AND waiting_reason = 'rate_limited' AND waiting_until >= now_at
       AND (created_at, id) > (created, delivery);
    IF my_turn IS NOT NULL THEN
        UPDATE deliveries SET waiting_until = waiting_until + spacing
         WHERE subscription_id = dest AND waiting_reason = 'rate_limited' AND waiting_until >= my_turn
           AND (created_at, id) > (created, delivery);
        turn := my_turn;
    END IF;
    UPDATE outbound_state SET rate_next_at = GREATEST(COALESCE(next_at, now_at), turn) + spacing WHERE destination_id = dest;
    UPDATE deliveries SET waiting_reason = 'rate_limited', waiting_since = COALESCE(waiting_since, now_at),
           waiting_until = turn
     WHERE id = delivery;
    RETURN extract(epoch FROM turn - now_at);
END $$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION hookflow_take_rate_slot(uuid, uuid, timestamptz, integer);
DROP INDEX deliveries_waiting_hook_idx;
DROP INDEX deliveries_waiting_subscription_idx;
ALTER TABLE deliveries DROP COLUMN waiting_reason, DROP COLUMN waiting_since, DROP COLUMN waiting_until;
DROP TABLE outbound_state;
ALTER TABLE subscriptions DROP COLUMN rate_limit;
