package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
)

// ClaimUndispatched claims up to limit committed deliveries whose workflow has not been
// started, oldest first, for lease (not those held by a pause: a resume releases them): other dispatchers skip them until it expires, so
// replicas share the work instead of repeating it, and a claim left by a dead process
// only delays its deliveries by the lease.
func (s *DB) ClaimUndispatched(ctx context.Context, limit int, lease time.Duration) ([]hookflow.DispatchItem, error) {
	now := s.Now()
	var items []hookflow.DispatchItem
	err := sqlx.SelectContext(ctx, s.hot, &items, `
		UPDATE deliveries d SET dispatch_lease_until = $2
		FROM (SELECT id FROM deliveries
			WHERE dispatched_at IS NULL AND (waiting_reason IS NULL OR waiting_until IS NULL)
				AND (dispatch_lease_until IS NULL OR dispatch_lease_until < $3)
			ORDER BY created_at LIMIT $1 FOR UPDATE SKIP LOCKED) AS claimed
		WHERE d.id = claimed.id
		RETURNING d.id, `+workflowIDColumn+`, d.account_id, COALESCE(d.subscription_id::text, '') AS subscription_id,
			d.event_type, d.created_at, COALESCE(d.trace_parent, '') AS trace_parent`,
		limit, now.Add(lease), now)
	return items, wrap(err)
}

// ReleaseClaims gives deliveries whose workflows could not be started back to the next
// sweep at once.
func (s *DB) ReleaseClaims(ctx context.Context, ids []string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET dispatch_lease_until = NULL
		WHERE id = ANY($1) AND dispatched_at IS NULL`, pq.StringArray(ids))
	return wrap(err)
}

// CountOpenDeliveries counts pending and retrying deliveries (the metrics gauges).
func (s *DB) CountOpenDeliveries(ctx context.Context) (map[hookflow.Status]int64, error) {
	var rows []struct {
		Status string `db:"status"`
		Count  int64  `db:"count"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT status, count(*) AS count FROM deliveries
		WHERE status IN ('pending', 'retrying') GROUP BY status`)
	if err != nil {
		return nil, wrap(err)
	}
	counts := map[hookflow.Status]int64{}
	for _, r := range rows {
		counts[hookflow.Status(r.Status)] = r.Count
	}
	return counts, nil
}

// MarkDispatched records that the workflows of these deliveries exist.
func (s *DB) MarkDispatched(ctx context.Context, ids []string) error {
	_, err := s.hot.ExecContext(ctx, `UPDATE deliveries SET dispatched_at = $2 WHERE id = ANY($1) AND dispatched_at IS NULL`,
		pq.StringArray(ids), s.Now())
	return wrap(err)
}

type sendRequestRow struct {
	EventID             string         `db:"event_id"`
	Payload             string         `db:"payload"`
	SubscriptionID      sql.NullString `db:"subscription_id"`
	HookID              sql.NullString `db:"campaign_webhook_id"`
	URL                 string         `db:"url"`
	Headers             []byte         `db:"headers"`
	TimeoutSeconds      sql.NullInt64  `db:"timeout_seconds"`
	SecretKey           string         `db:"secret_key"`
	RetiredSecrets      []byte         `db:"retired_secrets"`
	Deleted             bool           `db:"deleted"`
	Disabled            bool           `db:"disabled"`
	HookRemoved         bool           `db:"hook_removed"`
	Status              string         `db:"status"`
	Attempts            int            `db:"attempts"`
	MaxRetries          sql.NullInt64  `db:"max_retries"`
	Policy              string         `db:"policy"`
	FulfilmentID        sql.NullString `db:"fulfilment_id"`
	FulfilmentCompleted bool           `db:"fulfilment_completed"`
	CreatedAt           time.Time      `db:"created_at"`
	RateLimit           int            `db:"rate_limit"`
	ThrottledUntil      *time.Time     `db:"throttled_until"`
	ThrottleLevel       int            `db:"throttle_level"`
	Waiting             bool           `db:"waiting"`
	Paused              bool           `db:"paused"`
	RecoveryID          sql.NullString `db:"recovery_id"`
	RecoveryPending     bool           `db:"recovery_pending"`
	Ordered             bool           `db:"ordered"`
	Predecessor         string         `db:"predecessor"`
	WaitingForTurn      bool           `db:"waiting_for_turn"`
}

const sendRequestQuery = `SELECT d.event_id, d.payload, d.subscription_id, d.campaign_webhook_id,
		COALESCE(s.url, w.url, '') AS url, COALESCE(s.headers, '{}') AS headers, s.timeout_seconds,
		COALESCE(s.secret_key, c.secret_key, '') AS secret_key, COALESCE(s.retired_secrets, c.retired_secrets, '[]') AS retired_secrets,
		(s.deleted_at IS NOT NULL) AS deleted, (s.id IS NOT NULL AND NOT s.active) AS disabled,
		(w.removed_at IS NOT NULL) AS hook_removed,
		d.status, d.attempts, s.max_retries, d.policy, d.fulfilment_id,
		COALESCE(f.status = 'completed', false) AS fulfilment_completed,
		d.created_at, COALESCE(s.rate_limit, 0) AS rate_limit,
		o.throttled_until, COALESCE(o.throttle_level, 0) AS throttle_level, (d.waiting_reason IS NOT NULL) AS waiting,
		(s.paused_at IS NOT NULL) AS paused, d.recovery_id, d.recovery_pending,
		(d.ordering_seq IS NOT NULL) AS ordered, ` + predecessorColumn + `, COALESCE(d.waiting_reason = 'ordering', false) AS waiting_for_turn
		FROM deliveries d
		LEFT JOIN subscriptions s ON s.id = d.subscription_id
		LEFT JOIN campaign_webhooks w ON w.id = d.campaign_webhook_id
		LEFT JOIN campaigns c ON c.id = w.campaign_id
		LEFT JOIN fulfilments f ON f.id = d.fulfilment_id
		LEFT JOIN outbound_state o ON o.destination_id = COALESCE(d.subscription_id, d.campaign_webhook_id)
		WHERE d.id = $1`

// campaignWebhookTimeout bounds an attempt to a legacy campaign webhook, which has no
// timeout setting of its own.
const campaignWebhookTimeout = 30 * time.Second

// SendRequest reads, in one query, what the next attempt of a delivery sends and where (a
// subscription's current URL, headers, timeout and secrets, or a campaign webhook's URL
// and the campaign's secret) and where the delivery stands: its status, attempts and
// retry settings.
func (s *DB) SendRequest(ctx context.Context, deliveryID string) (hookflow.SendRequest, error) {
	var row sendRequestRow
	err := sqlx.GetContext(ctx, s.hot, &row, sendRequestQuery, deliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.SendRequest{}, notFound("delivery")
	}
	if err != nil {
		return hookflow.SendRequest{}, wrap(err)
	}
	keys := hookflow.Subscription{SecretKey: row.SecretKey}
	if err := json.Unmarshal(row.RetiredSecrets, &keys.RetiredSecrets); err != nil {
		return hookflow.SendRequest{}, err
	}
	if err := s.openKeys(&keys.SecretKey, keys.RetiredSecrets); err != nil {
		return hookflow.SendRequest{}, err
	}
	req := hookflow.SendRequest{DeliveryID: deliveryID, MessageID: row.EventID, Payload: []byte(row.Payload),
		CreatedAt: row.CreatedAt.UTC(), DestinationID: row.SubscriptionID.String + row.HookID.String,
		RateLimit: row.RateLimit, ThrottledUntil: utc(row.ThrottledUntil), ThrottleLevel: row.ThrottleLevel, Waiting: row.Waiting, Paused: row.Paused,
		SubscriptionID: row.SubscriptionID.String, CampaignWebhookID: row.HookID.String,
		Predecessor: row.Predecessor, WaitingForTurn: row.WaitingForTurn,
		URL: row.URL, Headers: map[string]string{}, Timeout: campaignWebhookTimeout, Secrets: keys.Secrets(s.Now()),
		State: hookflow.DeliveryState{Status: hookflow.Status(row.Status), Attempts: row.Attempts,
			MaxRetries: int(row.MaxRetries.Int64), Policy: hookflow.PolicyKind(row.Policy), Fulfilment: row.FulfilmentID.Valid,
			RecoveryID: row.RecoveryID.String, RecoveryPending: row.RecoveryPending, Ordered: row.Ordered}}
	if row.TimeoutSeconds.Valid {
		req.Timeout = time.Duration(row.TimeoutSeconds.Int64) * time.Second
	}
	if err := json.Unmarshal(row.Headers, &req.Headers); err != nil {
		return hookflow.SendRequest{}, err
	}
	switch {
	case row.Deleted:
		req.Skip = "the subscription was deleted"
	case row.Disabled:
		req.Skip = "the subscription is disabled"
	case row.HookRemoved:
		req.Skip = "the campaign webhook was removed"
	case row.FulfilmentCompleted:
		// One endpoint's 200 paid the reward out; telling another endpoint it is still
		// pending could pay it out twice.
		req.Skip = "not sent: the fulfilment was completed (an endpoint answered 200)"
	}
	return req, nil
}

// RecordAttempt writes an attempt row and the delivery's new state (and, when the answer
// says so, the fulfilment's) in one statement: atomic on its own, and one round trip on
// the path every attempt takes. It is idempotent on (delivery, attempt number): recording
// the same attempt again (a retried activity) overwrites it with the latest outcome, so
// the rows always agree. A failed attempt also counts against its subscription's run of
// failures, which may pause it, and a delivery that ends failed is told to the account's
// subscribers (hookflow.delivery.failed): those follow in the same transaction. The
// attempt is counted in its subscription's endpoint health when its row is first written.
func (s *DB) RecordAttempt(ctx context.Context, rec hookflow.AttemptRecord) error {
	a := rec.Attempt
	var deliveredAt *time.Time
	finished := a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
	if rec.Status == hookflow.StatusDelivered {
		deliveredAt = &finished
	}
	body := hookflow.Excerpt(a.ResponseBody, hookflow.MaxResponseBodyChars)
	attemptErr := hookflow.Excerpt(a.Error, hookflow.MaxErrorChars)
	args := []any{rec.DeliveryID, a.Number, a.StartedAt, a.DurationMS, a.ResponseCode, body, attemptErr,
		string(a.Trigger), string(rec.Status), rec.NextAttemptAt, deliveredAt, rec.RecoveryID}
	query := `WITH attempt AS (
			INSERT INTO attempts (delivery_id, number, started_at, duration_ms, response_code, response_body, error, trigger)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at,
				duration_ms = EXCLUDED.duration_ms, response_code = EXCLUDED.response_code,
				response_body = EXCLUDED.response_body, error = EXCLUDED.error, trigger = EXCLUDED.trigger
			RETURNING (xmax = 0) AS fresh),
		delivery AS (
			UPDATE deliveries SET status = $9, attempts = GREATEST(attempts, $2), response_code = $5,
				response_body = $6, last_error = $7, next_attempt_at = $10,
				waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL,
				delivered_at = COALESCE($11, delivered_at), dispatched_at = COALESCE(dispatched_at, $3),
				recovery_pending = CASE WHEN recovery_id = NULLIF($12, '')::uuid THEN false ELSE recovery_pending END
			WHERE id = $1
			RETURNING subscription_id, fulfilment_id, account_id, number, event_id, event_type, is_test), ` +
		healthRollup(&args, a, attemptErr)
	succeeded := a.Succeeded()
	if succeeded {
		// A success ends the subscription's run of failures (no write when there is none),
		// once, as a failure counts once. The subscription is the one the rollup counted
		// the attempt for, so its hour's row is locked before the subscription's, as on
		// the failure path: two attempts of one subscription cannot deadlock.
		query += `, streak AS (UPDATE subscriptions SET failing_since = NULL, failing_attempts = 0
			WHERE id = (SELECT subscription_id FROM health) AND failing_since IS NOT NULL)`
	}
	switch {
	case rec.CompleteFulfilment:
		args = append(args, finished)
		query += fmt.Sprintf(`, fulfilment AS (
			UPDATE fulfilments SET status = 'completed', date_paid = $%d, has_issues = false, updated_at = $%d
			WHERE id = (SELECT fulfilment_id FROM delivery) AND status = 'pending')`, len(args), len(args))
	case rec.FulfilmentIssues:
		args = append(args, s.Now())
		query += fmt.Sprintf(`, fulfilment AS (
			UPDATE fulfilments SET has_issues = true, updated_at = $%d
			WHERE id = (SELECT fulfilment_id FROM delivery) AND status = 'pending')`, len(args))
	}
	if succeeded {
		_, err := s.hot.ExecContext(ctx, query+` SELECT 1`, args...)
		return recordError(err)
	}
	query += ` SELECT COALESCE((SELECT fresh FROM attempt), false) AS fresh, d.subscription_id, d.account_id, d.number,
		d.event_id, d.event_type, d.is_test FROM delivery d`
	notify := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var failed failedAttempt
		if err := sqlx.GetContext(ctx, tx, &failed, query, args...); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return notFound("delivery")
			}
			return err
		}
		var err error
		notify, err = s.afterFailedAttempt(ctx, tx, failed, rec)
		return err
	})
	if notify {
		s.wakeDispatchers()
	}
	return recordError(err)
}

// recordError is RecordAttempt's error: a delivery deleted meanwhile (by retention) is not
// found, which no retry of the step can change.
func recordError(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23503" {
		return notFound("delivery")
	}
	return wrap(err)
}

// failedAttempt is what RecordAttempt learns of a delivery whose attempt failed.
type failedAttempt struct {
	// Fresh is false when the attempt was recorded before (the step ran again): its
	// consequences were drawn then.
	Fresh          bool           `db:"fresh"`
	SubscriptionID sql.NullString `db:"subscription_id"`
	AccountID      string         `db:"account_id"`
	Number         int64          `db:"number"`
	EventID        string         `db:"event_id"`
	EventType      string         `db:"event_type"`
	Test           bool           `db:"is_test"`
}

// afterFailedAttempt counts a failed attempt against its subscription's run of failures,
// pauses the subscription when the answer or the run says so, and tells the account's
// subscribers about a delivery that ended failed. Deliveries of tests and of hookflow's own
// events count for none of it, so an operational event never causes another. It reports
// whether it wrote deliveries (the dispatchers are then woken after the commit).
func (s *DB) afterFailedAttempt(ctx context.Context, tx *sqlx.Tx, f failedAttempt, rec hookflow.AttemptRecord) (bool, error) {
	if !f.Fresh || !f.SubscriptionID.Valid || f.Test || hookflow.IsOperational(f.EventType) {
		return false, nil
	}
	at := rec.At
	if at.IsZero() {
		at = s.Now()
	}
	// As PostgreSQL keeps it (it rounds to microseconds), so the window is measured between
	// times of one precision.
	at = at.Round(time.Microsecond)
	var sub struct {
		URL      string    `db:"url"`
		Since    time.Time `db:"failing_since"`
		Attempts int       `db:"failing_attempts"`
		Paused   bool      `db:"paused"`
	}
	err := sqlx.GetContext(ctx, tx, &sub, `UPDATE subscriptions SET failing_since = COALESCE(failing_since, $2),
		failing_attempts = failing_attempts + 1 WHERE id = $1
		RETURNING url, failing_since, failing_attempts, paused_at IS NOT NULL AS paused`, f.SubscriptionID.String, at)
	if err != nil {
		return false, err
	}
	wrote := false
	reason := rec.PauseReason
	if streak := (hookflow.FailureStreak{Since: sub.Since, Attempts: sub.Attempts}); reason == "" && streak.Pauses(at, s.PauseAfter) {
		reason = hookflow.PausedByFailures(streak)
	}
	if reason != "" && !sub.Paused {
		if wrote, err = s.pause(ctx, tx, f.SubscriptionID.String, reason, at); err != nil {
			return false, err
		}
	}
	if rec.Status == hookflow.StatusFailed {
		var code any
		if rec.Attempt.ResponseCode != nil {
			code = *rec.Attempt.ResponseCode
		}
		failed, err := s.emitOperational(ctx, tx, f.AccountID, hookflow.EventDeliveryFailed, "delivery",
			hookflow.EntityID{Value: strconv.FormatInt(f.Number, 10), Number: true}, map[string]any{
				"subscription_id": f.SubscriptionID.String, "url": sub.URL, "delivery_id": f.Number,
				"event_id": f.EventID, "event_type": f.EventType, "attempts": rec.Attempt.Number,
				"response_code": code, "last_error": hookflow.Excerpt(rec.Attempt.Error, hookflow.MaxErrorChars),
			})
		if err != nil {
			return false, err
		}
		wrote = wrote || failed
	}
	return wrote, nil
}

// FailWithoutAttempt ends a delivery that cannot be attempted any more, saying why.
func (s *DB) FailWithoutAttempt(ctx context.Context, deliveryID, reason string) error {
	// A recovery waiting for this delivery's attempt waits no more: there will be none.
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL,
		waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL, recovery_pending = false
		WHERE id = $1 AND status <> 'delivered'`, deliveryID, hookflow.Excerpt(reason, hookflow.MaxErrorChars))
	return wrap(err)
}
