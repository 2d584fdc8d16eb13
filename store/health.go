package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
)

var _ hookflow.HealthService = (*DB)(nil)

// healthRollupSQL counts one attempt in its hour's row of endpoint_health, as a CTE of
// RecordAttempt's statement: it reads that statement's attempt (fresh: the row was
// written, not rewritten) and delivery (its subscription). It is one single-row upsert on
// the primary key that changes counters, one bucket of the histogram and, for a failure,
// the last failure: the row stays small and the update HOT. The row lock is held until
// the statement's transaction commits, so the attempts of one subscription take turns on
// it for that long (the failure path already holds the subscription's row as long).
// Spreading an hour over several rows would let them commit side by side, at the price of
// as many rows per hour for every subscription; taking turns, one row still keeps up with
// more attempts than hookflow makes to one endpoint (Temporal's cost per delivery bounds
// those long before).
const healthRollupSQL = `health AS (
		INSERT INTO endpoint_health AS h (subscription_id, hour, succeeded, client_errors, server_errors, no_answer,
			duration_ms, latency, last_success_at, last_failure_at, last_failure_code, last_failure_error)
		SELECT d.subscription_id, {hour}::timestamptz, {succeeded}::int, {client_errors}::int, {server_errors}::int,
			{no_answer}::int, {duration}::bigint,
			array_fill(0, ARRAY[{bucket}::int - 1]) || 1 || array_fill(0, ARRAY[{buckets} - {bucket}::int]),
			{success_at}::timestamptz, {failure_at}::timestamptz, {failure_code}::int, {failure_error}::text
		FROM delivery d, attempt a WHERE a.fresh AND d.subscription_id IS NOT NULL
		ON CONFLICT (subscription_id, hour) DO UPDATE SET
			succeeded = h.succeeded + EXCLUDED.succeeded, client_errors = h.client_errors + EXCLUDED.client_errors,
			server_errors = h.server_errors + EXCLUDED.server_errors, no_answer = h.no_answer + EXCLUDED.no_answer,
			duration_ms = h.duration_ms + EXCLUDED.duration_ms,
			latency[{bucket}::int] = h.latency[{bucket}::int] + 1,
			last_success_at = GREATEST(h.last_success_at, EXCLUDED.last_success_at),
			last_failure_at = GREATEST(h.last_failure_at, EXCLUDED.last_failure_at),
			last_failure_code = CASE WHEN EXCLUDED.last_failure_at IS NOT NULL
				AND (h.last_failure_at IS NULL OR EXCLUDED.last_failure_at >= h.last_failure_at)
				THEN EXCLUDED.last_failure_code ELSE h.last_failure_code END,
			last_failure_error = CASE WHEN EXCLUDED.last_failure_at IS NOT NULL
				AND (h.last_failure_at IS NULL OR EXCLUDED.last_failure_at >= h.last_failure_at)
				THEN EXCLUDED.last_failure_error ELSE h.last_failure_error END
		RETURNING subscription_id)`

// healthRollup is healthRollupSQL for attempt a (attemptErr is its error as recorded),
// its arguments appended to args. The statement that includes it must define the CTEs
// attempt and delivery.
func healthRollup(args *[]any, a hookflow.Attempt, attemptErr string) string {
	outcome := hookflow.AttemptOutcome(a)
	count := func(o hookflow.Outcome) int {
		if outcome == o {
			return 1
		}
		return 0
	}
	var successAt, failureAt *time.Time
	var failureCode *int
	failureErr := ""
	if outcome == hookflow.OutcomeSucceeded {
		successAt = &a.StartedAt
	} else {
		failureAt, failureCode = &a.StartedAt, a.ResponseCode
		failureErr = hookflow.Truncate(attemptErr, hookflow.MaxHealthErrorChars)
	}
	values := []struct {
		name  string
		value any
	}{
		{"hour", a.StartedAt.UTC().Truncate(time.Hour)},
		{"succeeded", count(hookflow.OutcomeSucceeded)},
		{"client_errors", count(hookflow.OutcomeClientError)},
		{"server_errors", count(hookflow.OutcomeServerError)},
		{"no_answer", count(hookflow.OutcomeNoAnswer)},
		{"duration", a.DurationMS},
		// PostgreSQL's arrays count from 1.
		{"bucket", hookflow.LatencyBucket(a.DurationMS) + 1},
		{"success_at", successAt},
		{"failure_at", failureAt},
		{"failure_code", failureCode},
		{"failure_error", failureErr},
	}
	replace := []string{"{buckets}", strconv.Itoa(hookflow.LatencyBuckets)}
	for _, v := range values {
		*args = append(*args, v.value)
		replace = append(replace, "{"+v.name+"}", "$"+strconv.Itoa(len(*args)))
	}
	return strings.NewReplacer(replace...).Replace(healthRollupSQL)
}

// purgeHealth deletes the hours that ended before cutoff or before the longest window,
// whichever is earlier.
func (s *DB) purgeHealth(ctx context.Context, cutoff time.Time) error {
	if kept := s.Now().Add(-hookflow.HealthKept); kept.Before(cutoff) {
		cutoff = kept
	}
	_, err := s.db.ExecContext(ctx, `DELETE FROM endpoint_health WHERE hour < $1`, cutoff.UTC().Truncate(time.Hour))
	return wrap(err)
}

// healthRow is one hour of endpoint_health; with the subscription's columns alone (no
// hour in the window) Hour is nil.
type healthRow struct {
	SubscriptionID   string        `db:"subscription_id"`
	Hour             *time.Time    `db:"hour"`
	Succeeded        int64         `db:"succeeded"`
	ClientErrors     int64         `db:"client_errors"`
	ServerErrors     int64         `db:"server_errors"`
	NoAnswer         int64         `db:"no_answer"`
	DurationMS       int64         `db:"duration_ms"`
	Latency          pq.Int64Array `db:"latency"`
	LastSuccessAt    *time.Time    `db:"last_success_at"`
	LastFailureAt    *time.Time    `db:"last_failure_at"`
	LastFailureCode  *int          `db:"last_failure_code"`
	LastFailureError string        `db:"last_failure_error"`
}

func (r healthRow) counts() hookflow.OutcomeCounts {
	return hookflow.OutcomeCounts{Succeeded: r.Succeeded, ClientErrors: r.ClientErrors, ServerErrors: r.ServerErrors, NoAnswer: r.NoAnswer}
}

// The subscription is joined first, so one query both scopes the read to the account and
// finds a subscription without attempts in the window (one row, its hour NULL).
const healthColumns = `s.id AS subscription_id, h.hour, COALESCE(h.succeeded, 0) AS succeeded,
	COALESCE(h.client_errors, 0) AS client_errors, COALESCE(h.server_errors, 0) AS server_errors,
	COALESCE(h.no_answer, 0) AS no_answer`

// EndpointHealth reads the window's hours of the subscription: at most 168 rows of the
// rollup, found by its primary key.
func (s *DB) EndpointHealth(ctx context.Context, accountID, subscriptionID string, w hookflow.HealthWindow) (hookflow.EndpointHealth, error) {
	if uuid.Validate(subscriptionID) != nil {
		return hookflow.EndpointHealth{}, notFound("subscription")
	}
	from, to := w.Span(s.Now())
	var rows []healthRow
	err := sqlx.SelectContext(ctx, s.db, &rows, `SELECT `+healthColumns+`, COALESCE(h.duration_ms, 0) AS duration_ms,
			COALESCE(h.latency, '{}') AS latency, h.last_success_at, h.last_failure_at, h.last_failure_code,
			COALESCE(h.last_failure_error, '') AS last_failure_error
		FROM subscriptions s
		LEFT JOIN endpoint_health h ON h.subscription_id = s.id AND h.hour >= $3 AND h.hour < $4
		WHERE s.id = $1 AND s.account_id = $2 AND s.deleted_at IS NULL
		ORDER BY h.hour`, subscriptionID, accountID, from, to)
	if err != nil {
		return hookflow.EndpointHealth{}, wrap(err)
	}
	if len(rows) == 0 {
		return hookflow.EndpointHealth{}, notFound("subscription")
	}
	rollups := make([]hookflow.HourRollup, 0, len(rows))
	for _, r := range rows {
		if r.Hour == nil {
			continue
		}
		rollup := hookflow.HourRollup{Hour: *r.Hour, OutcomeCounts: r.counts(), DurationMS: r.DurationMS,
			Latency: hookflow.LatencyHistogram(r.Latency), LastSuccessAt: r.LastSuccessAt}
		if r.LastFailureAt != nil {
			rollup.LastFailure = &hookflow.AttemptFailure{At: *r.LastFailureAt, ResponseCode: r.LastFailureCode, Error: r.LastFailureError}
		}
		rollups = append(rollups, rollup)
	}
	return hookflow.NewEndpointHealth(subscriptionID, w, from, rollups), nil
}

// HealthSummaries reads the last 24 hours of the account's subscriptions among ids:
// their counts only, not their histograms.
func (s *DB) HealthSummaries(ctx context.Context, accountID string, ids []string) (map[string]hookflow.HealthSummary, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if uuid.Validate(id) == nil {
			valid = append(valid, id)
		}
	}
	summaries := map[string]hookflow.HealthSummary{}
	if len(valid) == 0 {
		return summaries, nil
	}
	from, to := hookflow.HealthDay.Span(s.Now())
	var rows []healthRow
	err := sqlx.SelectContext(ctx, s.db, &rows, `SELECT `+healthColumns+`
		FROM subscriptions s
		LEFT JOIN endpoint_health h ON h.subscription_id = s.id AND h.hour >= $3 AND h.hour < $4
		WHERE s.id = ANY($1::uuid[]) AND s.account_id = $2 AND s.deleted_at IS NULL`,
		pq.StringArray(valid), accountID, from, to)
	if err != nil {
		return nil, wrap(err)
	}
	hours := map[string][]hookflow.HourHealth{}
	for _, r := range rows {
		hs := hours[r.SubscriptionID]
		if r.Hour != nil {
			hs = append(hs, hookflow.HourHealth{Hour: *r.Hour, OutcomeCounts: r.counts()})
		}
		// A subscription without attempts still gets its (empty) summary.
		hours[r.SubscriptionID] = hs
	}
	for id, hs := range hours {
		summaries[id] = hookflow.NewHealthSummary(id, from, hs)
	}
	return summaries, nil
}
