package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
)

// UndispatchedDeliveries returns up to limit committed deliveries whose workflow has not
// been started, oldest first.
func (s *DB) UndispatchedDeliveries(ctx context.Context, limit int) ([]hookflow.DispatchItem, error) {
	var items []hookflow.DispatchItem
	err := s.db.SelectContext(ctx, &items, `SELECT id, account_id, COALESCE(subscription_id::text, '') AS subscription_id, event_type
		FROM deliveries WHERE dispatched_at IS NULL ORDER BY created_at LIMIT $1`, limit)
	return items, wrap(err)
}

// MarkDispatched records that the workflows of these deliveries exist.
func (s *DB) MarkDispatched(ctx context.Context, ids []string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET dispatched_at = $2 WHERE id = ANY($1) AND dispatched_at IS NULL`,
		pq.StringArray(ids), s.Now())
	return wrap(err)
}

// DeliveryState reads where a delivery stands and its subscription's retry settings.
func (s *DB) DeliveryState(ctx context.Context, deliveryID string) (hookflow.DeliveryState, error) {
	var row struct {
		Status     string        `db:"status"`
		Attempts   int           `db:"attempts"`
		MaxRetries sql.NullInt64 `db:"max_retries"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT d.status, d.attempts, s.max_retries
		FROM deliveries d LEFT JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`, deliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.DeliveryState{}, notFound("delivery")
	}
	if err != nil {
		return hookflow.DeliveryState{}, wrap(err)
	}
	return hookflow.DeliveryState{DeliveryID: deliveryID, Status: hookflow.Status(row.Status),
		Attempts: row.Attempts, MaxRetries: int(row.MaxRetries.Int64)}, nil
}

// SendRequest reads what the next attempt of a delivery sends and where.
func (s *DB) SendRequest(ctx context.Context, deliveryID string) (hookflow.SendRequest, error) {
	var row struct {
		EventID string `db:"event_id"`
		Payload string `db:"payload"`
		subscriptionRow
		Deleted bool `db:"deleted"`
	}
	err := s.db.GetContext(ctx, &row, `SELECT d.event_id, d.payload, (s.deleted_at IS NOT NULL) AS deleted,
		s.id, s.account_id, s.url, s.event_types, s.campaign_ids, s.description, s.active, s.timeout_seconds,
		s.max_retries, s.headers, s.secret_key, s.previous_secret_key, s.previous_secret_expires_at,
		s.disabled_reason, s.created_at, s.updated_at
		FROM deliveries d JOIN subscriptions s ON s.id = d.subscription_id WHERE d.id = $1`, deliveryID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.SendRequest{}, notFound("delivery")
	}
	if err != nil {
		return hookflow.SendRequest{}, wrap(err)
	}
	sub := row.subscription()
	req := hookflow.SendRequest{
		DeliveryID: deliveryID, MessageID: row.EventID, URL: sub.URL, Headers: sub.Headers,
		Timeout: time.Duration(sub.Timeout) * time.Second, Secrets: sub.Secrets(s.Now()), Payload: []byte(row.Payload),
	}
	switch {
	case row.Deleted:
		req.Skip = "the subscription was deleted"
	case !sub.Active:
		req.Skip = "the subscription is disabled"
	}
	return req, nil
}

// RecordAttempt writes an attempt row and the delivery's new state in one transaction.
// It is idempotent on (delivery, attempt number): recording the same attempt again (a
// retried activity) overwrites it with the latest outcome, so the two rows always agree.
func (s *DB) RecordAttempt(ctx context.Context, rec hookflow.AttemptRecord) error {
	a := rec.Attempt
	return s.inTx(ctx, func(tx *sqlx.Tx) error {
		_, err := tx.ExecContext(ctx, `
			INSERT INTO attempts (delivery_id, number, started_at, duration_ms, response_code, response_body, error, trigger)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
			ON CONFLICT (delivery_id, number) DO UPDATE SET started_at = EXCLUDED.started_at,
				duration_ms = EXCLUDED.duration_ms, response_code = EXCLUDED.response_code,
				response_body = EXCLUDED.response_body, error = EXCLUDED.error, trigger = EXCLUDED.trigger`,
			rec.DeliveryID, a.Number, a.StartedAt, a.DurationMS, a.ResponseCode,
			hookflow.Truncate(a.ResponseBody, hookflow.MaxResponseBodyChars), hookflow.Truncate(a.Error, hookflow.MaxErrorChars), string(a.Trigger))
		if err != nil {
			return err
		}
		var deliveredAt *time.Time
		if rec.Status == hookflow.StatusDelivered {
			t := a.StartedAt.Add(time.Duration(a.DurationMS) * time.Millisecond)
			deliveredAt = &t
		}
		_, err = tx.ExecContext(ctx, `
			UPDATE deliveries SET status = $2, attempts = GREATEST(attempts, $3), response_code = $4,
				response_body = $5, last_error = $6, next_attempt_at = $7,
				delivered_at = COALESCE($8, delivered_at), dispatched_at = COALESCE(dispatched_at, $9)
			WHERE id = $1`,
			rec.DeliveryID, string(rec.Status), a.Number, a.ResponseCode,
			hookflow.Truncate(a.ResponseBody, hookflow.MaxResponseBodyChars), hookflow.Truncate(a.Error, hookflow.MaxErrorChars),
			rec.NextAttemptAt, deliveredAt, a.StartedAt)
		return err
	})
}

// FailWithoutAttempt ends a delivery that cannot be attempted any more, saying why.
func (s *DB) FailWithoutAttempt(ctx context.Context, deliveryID, reason string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE deliveries SET status = 'failed', last_error = $2, next_attempt_at = NULL
		WHERE id = $1 AND status <> 'delivered'`, deliveryID, hookflow.Truncate(reason, hookflow.MaxErrorChars))
	return wrap(err)
}
