-- +goose Up
-- Each subscription's attempts, hour by hour: what endpoint health (the dashboard's charts,
-- GET /v1/subscriptions/{id}/health) reads, so a busy endpoint's week is at most 168 rows
-- rather than every attempt. RecordAttempt adds an attempt here in the statement that
-- writes it, once (a repeated record of the same attempt is not counted again); retention
-- deletes rows older than HOOKFLOW_RETENTION or 7 days, whichever is longer. Attempts to
-- campaign webhook URLs belong to no subscription and are not counted. Every attempt
-- rewrites its hour's row: the free half of each page (fillfactor) lets the new version
-- stay beside the old one, an update that adds no index entry (HOT).
CREATE TABLE endpoint_health (
    subscription_id     uuid NOT NULL REFERENCES subscriptions (id) ON DELETE CASCADE,
    -- The UTC hour the attempts started in.
    hour                timestamptz NOT NULL,
    -- By outcome: 2xx; 4xx and any other answer below 500 (1xx, 3xx); 5xx; no answer
    -- (a timeout or a network error).
    succeeded           integer NOT NULL DEFAULT 0,
    client_errors       integer NOT NULL DEFAULT 0,
    server_errors       integer NOT NULL DEFAULT 0,
    no_answer           integer NOT NULL DEFAULT 0,
    duration_ms         bigint NOT NULL DEFAULT 0,
    -- Attempts by duration: element 1 counts those under 1 ms, element i + 1 those from
    -- the i-th bound of hookflow.LatencyBounds (the array given to width_bucket below) up
    -- to the next. The bounds are fixed: other bounds need another column.
    latency             integer[] NOT NULL,
    last_success_at     timestamptz,
    last_failure_at     timestamptz,
    last_failure_code   integer,
    last_failure_error  text NOT NULL DEFAULT '',
    PRIMARY KEY (subscription_id, hour)
) WITH (fillfactor = 50);
-- Retention deletes by age.
CREATE INDEX endpoint_health_hour_idx ON endpoint_health (hour);

-- The attempts of the last 7 days (what a window shows) are counted now; older ones would
-- only be deleted again. The attempts table has no index on started_at, so this is one
-- sequential read of it, joined to the deliveries of the attempts it keeps.
WITH recent AS (
    SELECT d.subscription_id, date_trunc('hour', a.started_at, 'UTC') AS hour, a.started_at, a.duration_ms,
        a.response_code, a.error, COALESCE(a.error = '' AND a.response_code BETWEEN 200 AND 299, false) AS ok
    FROM attempts a JOIN deliveries d ON d.id = a.delivery_id
    WHERE d.subscription_id IS NOT NULL AND a.started_at >= date_trunc('hour', now(), 'UTC') - interval '7 days'
),
by_bucket AS (
    SELECT subscription_id, hour, count(*) AS n,
        width_bucket(duration_ms, '{1,2,3,4,5,6,8,10,12,15,18,22,27,33,40,48,58,70,84,101,122,147,177,213,256,308,370,444,533,640,768,922,1107,1329,1595,1914,2297,2757,3309,3971,4766,5720,6864,8237,9885,11862,14235,17082,20499,24599,29519,35423,42508,51010,61212,73455,88146,105776,126932,152319}'::bigint[]) + 1 AS bucket
    FROM recent GROUP BY subscription_id, hour, bucket
),
histograms AS (
    SELECT k.subscription_id, k.hour, array_agg(COALESCE(b.n, 0)::integer ORDER BY i) AS latency
    FROM (SELECT DISTINCT subscription_id, hour FROM by_bucket) k
        CROSS JOIN generate_series(1, 61) AS i
        LEFT JOIN by_bucket b ON b.subscription_id = k.subscription_id AND b.hour = k.hour AND b.bucket = i
    GROUP BY k.subscription_id, k.hour
),
totals AS (
    SELECT subscription_id, hour,
        count(*) FILTER (WHERE ok) AS succeeded,
        count(*) FILTER (WHERE NOT ok AND response_code < 500) AS client_errors,
        count(*) FILTER (WHERE NOT ok AND response_code >= 500) AS server_errors,
        count(*) FILTER (WHERE NOT ok AND response_code IS NULL) AS no_answer,
        sum(duration_ms) AS duration_ms,
        max(started_at) FILTER (WHERE ok) AS last_success_at
    FROM recent GROUP BY subscription_id, hour
),
last_failures AS (
    SELECT DISTINCT ON (subscription_id, hour) subscription_id, hour, started_at, response_code, left(error, 300) AS error
    FROM recent WHERE NOT ok ORDER BY subscription_id, hour, started_at DESC
)
INSERT INTO endpoint_health (subscription_id, hour, succeeded, client_errors, server_errors, no_answer, duration_ms,
    latency, last_success_at, last_failure_at, last_failure_code, last_failure_error)
SELECT t.subscription_id, t.hour, t.succeeded, t.client_errors, t.server_errors, t.no_answer, t.duration_ms,
    h.latency, t.last_success_at, f.started_at, f.response_code, COALESCE(f.error, '')
FROM totals t
    JOIN histograms h ON h.subscription_id = t.subscription_id AND h.hour = t.hour
    LEFT JOIN last_failures f ON f.subscription_id = t.subscription_id AND f.hour = t.hour;

-- +goose Down
DROP TABLE endpoint_health;
