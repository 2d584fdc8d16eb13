package store

import (
	"context"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/outbound"
)

var _ outbound.Store = (*DB)(nil)

// TakeRateSlot lets one request of a rate-limited subscription out now, or marks the
// delivery waiting and says for how long (hookflow_take_rate_slot, on the database's
// clock so every replica shares the limit).
func (s *DB) TakeRateSlot(ctx context.Context, req hookflow.SendRequest) (time.Duration, error) {
	var seconds float64
	err := s.hot.QueryRowxContext(ctx, `SELECT hookflow_take_rate_slot($1, $2, $3, $4)`,
		req.DestinationID, req.DeliveryID, req.CreatedAt, req.RateLimit).Scan(&seconds)
	if err != nil {
		return 0, wrap(err)
	}
	return time.Duration(seconds * float64(time.Second)), nil
}

// Throttle holds the destination after a throttling answer: until now plus the longer of
// retryAfter and the backoff's hold for its next throttle level.
func (s *DB) Throttle(ctx context.Context, destinationID string, retryAfter time.Duration, backoff outbound.ThrottleBackoff) error {
	_, err := s.db.ExecContext(ctx, `
		INSERT INTO outbound_state AS o (destination_id, throttle_level, throttled_until)
		VALUES ($1, 1, $2::timestamptz + make_interval(secs => GREATEST($3::float8, $4::float8)))
		ON CONFLICT (destination_id) DO UPDATE SET throttle_level = o.throttle_level + 1,
			throttled_until = GREATEST(o.throttled_until, $2::timestamptz + make_interval(
				secs => GREATEST($3::float8, LEAST($4::float8 * power(2, LEAST(o.throttle_level, 30)), $5::float8))))`,
		destinationID, s.Now(), retryAfter.Seconds(), backoff.Base.Seconds(), backoff.Max.Seconds())
	return wrap(err)
}

// Unthrottle lets the destination go at full speed again.
func (s *DB) Unthrottle(ctx context.Context, destinationID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE outbound_state SET throttle_level = 0, throttled_until = NULL
		WHERE destination_id = $1 AND throttle_level > 0`, destinationID)
	return wrap(err)
}

// MarkWaiting shows the delivery as waiting for its endpoint; since when is kept across
// waits that follow one another.
func (s *DB) MarkWaiting(ctx context.Context, deliveryID string, reason hookflow.WaitReason, until time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET waiting_reason = $2,
		waiting_since = COALESCE(waiting_since, $3), waiting_until = $4
		WHERE id = $1 AND status IN ('pending', 'retrying', 'failed')`, deliveryID, string(reason), s.Now(), until)
	return wrap(err)
}

// ClearWaiting removes a delivery's waiting mark.
func (s *DB) ClearWaiting(ctx context.Context, deliveryID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET waiting_reason = NULL, waiting_since = NULL, waiting_until = NULL
		WHERE id = $1 AND waiting_reason IS NOT NULL`, deliveryID)
	return wrap(err)
}

// TakeWaiters picks the destination's oldest deliveries waiting for a slot that were not
// woken yet — behind the in-flight cap, or held by a pause that has ended — marks them
// woken (no expected wake: each is taken once, however many releases look at the same
// moment), and returns them. Those held since before they had a workflow are handed to
// the dispatchers (woken by NOTIFY), which start them. A destination is a subscription or a campaign webhook: each
// kind is looked up on its own index, in creation order, with no sort.
func (s *DB) TakeWaiters(ctx context.Context, destinationID string, n int) ([]outbound.Waiter, error) {
	var waiters []outbound.Waiter
	for _, column := range []string{"subscription_id", "campaign_webhook_id"} {
		err := sqlx.SelectContext(ctx, s.db, &waiters, `WITH picked AS (
				SELECT id, (dispatched_at IS NULL AND waiting_reason = 'paused') AS undispatched FROM deliveries
				WHERE `+column+` = $1 AND waiting_until IS NOT NULL
					AND (waiting_reason = 'in_flight_cap' OR (waiting_reason = 'paused'
						AND NOT EXISTS (SELECT 1 FROM subscriptions WHERE id = $1 AND paused_at IS NOT NULL)))
				ORDER BY created_at, id LIMIT $2 FOR UPDATE SKIP LOCKED),
			woken AS (UPDATE deliveries d SET waiting_until = NULL,
					-- One held without a workflow is now the dispatcher's to start; it goes on
					-- showing that it waited, so its answer wakes the next one in turn.
					waiting_reason = CASE WHEN picked.undispatched THEN 'in_flight_cap' ELSE d.waiting_reason END
				FROM picked WHERE d.id = picked.id
				RETURNING d.id, d.created_at, `+workflowIDColumn+`, picked.undispatched)
			SELECT id, workflow_id, undispatched FROM woken ORDER BY created_at, id`, destinationID, n)
		if err != nil {
			return nil, wrap(err)
		}
		if len(waiters) > 0 {
			for _, w := range waiters {
				if w.Undispatched {
					s.wakeDispatchers()
					break
				}
			}
			return waiters, nil
		}
	}
	return waiters, nil
}

// RequeueWaiter makes a delivery whose wake could not be sent a waiter to take again.
func (s *DB) RequeueWaiter(ctx context.Context, deliveryID string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET waiting_until = $2
		WHERE id = $1 AND waiting_until IS NULL AND waiting_reason IN ('in_flight_cap', 'paused')`, deliveryID, s.Now())
	return wrap(err)
}

// HoldWaiting marks a delivery held by its subscription's pause, unless the pause has
// ended meanwhile (false: the delivery may go).
func (s *DB) HoldWaiting(ctx context.Context, deliveryID string, until time.Time) (bool, error) {
	// A delivery held from its workflow has one (a manual retry may have started it before
	// the dispatcher did): dispatched, so a release wakes it rather than leaving it to the
	// dispatcher.
	res, err := s.db.ExecContext(ctx, `UPDATE deliveries d SET waiting_reason = 'paused',
		waiting_since = COALESCE(waiting_since, $2), waiting_until = $3, dispatched_at = COALESCE(dispatched_at, $2)
		WHERE d.id = $1 AND d.status IN ('pending', 'retrying', 'failed')
			AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.paused_at IS NOT NULL)`,
		deliveryID, s.Now(), until)
	if err != nil {
		return false, wrap(err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// CountWaiting counts the deliveries waiting for their endpoint, per reason (the metrics
// gauge).
func (s *DB) CountWaiting(ctx context.Context) (map[hookflow.WaitReason]int64, error) {
	var rows []struct {
		Reason string `db:"waiting_reason"`
		Count  int64  `db:"count"`
	}
	err := s.db.SelectContext(ctx, &rows, `SELECT waiting_reason, count(*) AS count FROM deliveries
		WHERE waiting_reason IS NOT NULL GROUP BY waiting_reason`)
	if err != nil {
		return nil, wrap(err)
	}
	counts := map[hookflow.WaitReason]int64{}
	for _, r := range rows {
		counts[hookflow.WaitReason(r.Reason)] = r.Count
	}
	return counts, nil
}
