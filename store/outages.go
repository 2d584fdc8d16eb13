package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

var _ hookflow.OutageService = (*DB)(nil)

// pause pauses the subscription unless it is paused already, and tells the account's
// subscribers (hookflow.subscription.paused). It reports whether it wrote deliveries.
func (s *DB) pause(ctx context.Context, tx *sqlx.Tx, subscriptionID, reason string, at time.Time) (bool, error) {
	var sub struct {
		AccountID string `db:"account_id"`
		URL       string `db:"url"`
	}
	err := sqlx.GetContext(ctx, tx, &sub, `UPDATE subscriptions SET paused_at = $2, paused_reason = $3, updated_at = $2
		WHERE id = $1 AND paused_at IS NULL AND deleted_at IS NULL RETURNING account_id, url`,
		subscriptionID, at, hookflow.Excerpt(reason, hookflow.MaxPauseReasonChars))
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return s.emitOperational(ctx, tx, sub.AccountID, hookflow.EventSubscriptionPaused, "subscription",
		hookflow.EntityID{Value: subscriptionID}, map[string]any{
			"subscription_id": subscriptionID, "url": sub.URL, "reason": reason, "paused_at": at.UTC(),
		})
}

// emitOperational writes one of hookflow's own events and its deliveries to the account's
// subscriptions that name its type, in the caller's transaction. It reports whether it
// wrote deliveries: the caller wakes the dispatchers after the commit.
func (s *DB) emitOperational(ctx context.Context, tx *sqlx.Tx, accountID, eventType, entityType string, entityID hookflow.EntityID, data map[string]any) (bool, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return false, err
	}
	e := hookflow.Event{ID: uuid.NewString(), AccountID: accountID, EventType: eventType, Action: "updated",
		EntityType: entityType, EntityID: entityID, Data: raw, CreatedAt: s.Now()}
	ds, err := planFanOut(ctx, tx, e, "")
	if err != nil {
		return false, err
	}
	if len(ds) == 0 {
		// Nobody listens: the event is not kept either.
		return false, nil
	}
	if err := insertEvent(ctx, tx, e); err != nil {
		return false, err
	}
	return true, insertDeliveries(ctx, tx, ds...)
}

// PauseSubscription pauses the subscription: its deliveries are held, not sent, until it
// is resumed. Pausing a paused subscription changes nothing.
func (s *DB) PauseSubscription(ctx context.Context, accountID, id, reason string) (hookflow.Subscription, error) {
	var sub hookflow.Subscription
	wrote := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if sub, err = findSubscription(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		if sub.Paused {
			return nil
		}
		if wrote, err = s.pause(ctx, tx, sub.ID, reason, s.Now()); err != nil {
			return err
		}
		sub, err = findSubscription(ctx, tx, accountID, id, false)
		return err
	})
	if wrote {
		s.wakeDispatchers()
	}
	return s.opened(sub, err)
}

// ResumeSubscription ends the pause: its run of failures starts again from nothing and the
// account's subscribers are told (hookflow.subscription.resumed). Its held deliveries are
// then waiters like those behind the in-flight cap (TakeWaiters takes them, oldest
// first): nothing is rewritten, however many are held. The caller wakes the first of them
// (outbound.WakeWaiters); each, when its answer comes, wakes the next. Resuming a
// subscription that is not paused changes nothing.
func (s *DB) ResumeSubscription(ctx context.Context, accountID, id string) (hookflow.Subscription, error) {
	var sub hookflow.Subscription
	wrote := false
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var err error
		if sub, err = findSubscription(ctx, tx, accountID, id, true); err != nil {
			return err
		}
		if !sub.Paused {
			return nil
		}
		now := s.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET paused_at = NULL, paused_reason = '',
			failing_since = NULL, failing_attempts = 0, updated_at = $2 WHERE id = $1`, sub.ID, now); err != nil {
			return err
		}
		var held int
		if err := sqlx.GetContext(ctx, tx, &held, `SELECT count(*) FROM deliveries
			WHERE subscription_id = $1 AND waiting_reason = 'paused'`, sub.ID); err != nil {
			return err
		}
		if wrote, err = s.emitOperational(ctx, tx, accountID, hookflow.EventSubscriptionResumed, "subscription",
			hookflow.EntityID{Value: sub.ID}, map[string]any{
				"subscription_id": sub.ID, "url": sub.URL, "reason": "resumed", "paused_at": sub.PausedAt,
				"paused_reason": sub.PausedReason, "held_deliveries": held,
			}); err != nil {
			return err
		}
		sub, err = findSubscription(ctx, tx, accountID, id, false)
		return err
	})
	if wrote {
		s.wakeDispatchers()
	}
	return s.opened(sub, err)
}

// CountHeld counts the subscription's deliveries held by its pause (none once it has
// ended: those left are waiting their turn).
func (s *DB) CountHeld(ctx context.Context, accountID, id string) (int, error) {
	if uuid.Validate(id) != nil {
		return 0, notFound("subscription")
	}
	var n int
	err := s.db.GetContext(ctx, &n, `SELECT count(*) FROM deliveries d WHERE d.subscription_id = $1 AND d.account_id = $2
		AND d.waiting_reason = 'paused' AND EXISTS (SELECT 1 FROM subscriptions s WHERE s.id = d.subscription_id AND s.paused_at IS NOT NULL)`, id, accountID)
	return n, wrap(err)
}

type recoveryRow struct {
	ID             string     `db:"id"`
	AccountID      string     `db:"account_id"`
	SubscriptionID string     `db:"subscription_id"`
	Since          time.Time  `db:"since"`
	Until          *time.Time `db:"until"`
	Status         string     `db:"status"`
	Total          int        `db:"total"`
	Retried        int        `db:"retried"`
	CreatedAt      time.Time  `db:"created_at"`
	CompletedAt    *time.Time `db:"completed_at"`
}

func (r recoveryRow) recovery() hookflow.Recovery {
	return hookflow.Recovery{ID: r.ID, AccountID: r.AccountID, SubscriptionID: r.SubscriptionID, Since: r.Since.UTC(),
		Until: utc(r.Until), Status: hookflow.RecoveryStatus(r.Status), Total: r.Total, Retried: r.Retried,
		WorkflowID: hookflow.RecoveryWorkflowID(r.ID), CreatedAt: r.CreatedAt.UTC(), CompletedAt: utc(r.CompletedAt)}
}

const recoverySelect = `SELECT r.id, r.account_id, r.subscription_id, r.since, r.until, r.status, r.total,
	(SELECT count(*) FROM deliveries d WHERE d.recovery_id = r.id AND NOT d.recovery_pending) AS retried,
	r.created_at, r.completed_at FROM recoveries r`

// CreateRecovery records a recovery of the subscription's failed deliveries created in
// the window; its workflow does the retrying.
func (s *DB) CreateRecovery(ctx context.Context, accountID, subscriptionID string, req hookflow.RecoveryRequest) (hookflow.Recovery, error) {
	now := s.Now()
	if err := req.Validate(now, s.Retention); err != nil {
		return hookflow.Recovery{}, err
	}
	var out hookflow.Recovery
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		sub, err := findSubscription(ctx, tx, accountID, subscriptionID, true)
		if err != nil {
			return err
		}
		if !sub.Active {
			return hookflow.Errorf(hookflow.ECONFLICT, "the subscription is not active: its deliveries would not be sent")
		}
		var running int
		if err := sqlx.GetContext(ctx, tx, &running, `SELECT count(*) FROM recoveries WHERE subscription_id = $1 AND status = 'running'`, sub.ID); err != nil {
			return err
		}
		if running > 0 {
			return hookflow.Errorf(hookflow.ECONFLICT, "a recovery of this subscription is running: wait for it to complete")
		}
		id := uuid.NewString()
		if _, err := tx.ExecContext(ctx, `INSERT INTO recoveries (id, account_id, subscription_id, since, until, total, created_at)
			SELECT $1, $2, $3, $4, $5, count(*), $6 FROM deliveries
			WHERE subscription_id = $3 AND status = 'failed' AND created_at >= $4 AND created_at < COALESCE($5::timestamptz, $6::timestamptz)`,
			id, accountID, sub.ID, req.Since, req.Until, now); err != nil {
			return err
		}
		var row recoveryRow
		if err := sqlx.GetContext(ctx, tx, &row, recoverySelect+` WHERE r.id = $1`, id); err != nil {
			return err
		}
		out = row.recovery()
		return nil
	})
	return out, err
}

// CancelRecovery removes a recovery that never started (its workflow could not be).
func (s *DB) CancelRecovery(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM recoveries WHERE id = $1 AND NOT EXISTS
		(SELECT 1 FROM deliveries WHERE recovery_id = $1)`, id)
	return wrap(err)
}

// FindRecovery returns one of the account's recoveries with its progress.
func (s *DB) FindRecovery(ctx context.Context, accountID, id string) (hookflow.Recovery, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Recovery{}, notFound("recovery")
	}
	var row recoveryRow
	err := s.db.GetContext(ctx, &row, recoverySelect+` WHERE r.id = $1 AND r.account_id = $2`, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Recovery{}, notFound("recovery")
	}
	if err != nil {
		return hookflow.Recovery{}, wrap(err)
	}
	return row.recovery(), nil
}

// ListRecoveries returns the subscription's latest recoveries, newest first.
func (s *DB) ListRecoveries(ctx context.Context, accountID, subscriptionID string) ([]hookflow.Recovery, error) {
	if uuid.Validate(subscriptionID) != nil {
		return nil, notFound("subscription")
	}
	var rows []recoveryRow
	if err := s.db.SelectContext(ctx, &rows, recoverySelect+` WHERE r.subscription_id = $1 AND r.account_id = $2
		ORDER BY r.created_at DESC LIMIT 10`, subscriptionID, accountID); err != nil {
		return nil, wrap(err)
	}
	out := make([]hookflow.Recovery, len(rows))
	for i, r := range rows {
		out[i] = r.recovery()
	}
	return out, nil
}

// NextRecoveryStep takes up to window − (deliveries taken whose attempt is still to come)
// more of the recovery's failed deliveries, oldest first, reading on from the last one
// taken, and returns every taken one still to be attempted: starting a delivery's
// workflow again is harmless (its id dedupes an open run, and a closed run's attempt was
// recorded, so it is no longer pending). Done when nothing is left to take and nothing is
// pending.
func (s *DB) NextRecoveryStep(ctx context.Context, recoveryID string, window int) (hookflow.RecoveryStep, error) {
	var step hookflow.RecoveryStep
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		var r struct {
			recoveryRow
			CursorAt *time.Time     `db:"cursor_at"`
			CursorID sql.NullString `db:"cursor_id"`
		}
		err := sqlx.GetContext(ctx, tx, &r, `SELECT id, account_id, subscription_id, since, until, status, total, 0 AS retried,
			created_at, completed_at, cursor_at, cursor_id FROM recoveries WHERE id = $1 FOR UPDATE`, recoveryID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("recovery")
		}
		if err != nil {
			return err
		}
		if r.Status == string(hookflow.RecoveryCompleted) {
			step.Done = true
			return nil
		}
		// Only failed ones are waited for: one retried by hand meanwhile (delivered, or
		// retrying) is no longer this recovery's to retry.
		var pending int
		if err := sqlx.GetContext(ctx, tx, &pending, `SELECT count(*) FROM deliveries
			WHERE recovery_id = $1 AND recovery_pending AND status = 'failed'`, recoveryID); err != nil {
			return err
		}
		taken := 0
		if take := window - pending; take > 0 {
			var last []struct {
				CreatedAt time.Time `db:"created_at"`
				ID        string    `db:"id"`
			}
			if err := sqlx.SelectContext(ctx, tx, &last, `WITH taken AS (
					UPDATE deliveries d SET recovery_id = $1, recovery_pending = true
					FROM (SELECT id FROM deliveries
						WHERE subscription_id = $2 AND status = 'failed'
							AND created_at >= $3 AND created_at < COALESCE($4::timestamptz, $5::timestamptz)
							AND (created_at, id) > (COALESCE($6::timestamptz, '-infinity'), COALESCE($7::uuid, '00000000-0000-0000-0000-000000000000'))
							AND recovery_id IS DISTINCT FROM $1
						ORDER BY created_at, id LIMIT $8 FOR UPDATE SKIP LOCKED) picked
					WHERE d.id = picked.id
					RETURNING d.created_at, d.id)
				SELECT created_at, id FROM taken ORDER BY created_at DESC, id DESC`,
				recoveryID, r.SubscriptionID, r.Since, r.Until, r.CreatedAt, r.CursorAt, r.CursorID, take); err != nil {
				return err
			}
			if taken = len(last); taken > 0 {
				if _, err := tx.ExecContext(ctx, `UPDATE recoveries SET cursor_at = $2, cursor_id = $3 WHERE id = $1`,
					recoveryID, last[0].CreatedAt, last[0].ID); err != nil {
					return err
				}
			}
		}
		if err := sqlx.SelectContext(ctx, tx, &step.Start, `SELECT d.id, `+workflowIDColumn+`, d.account_id,
			COALESCE(d.subscription_id::text, '') AS subscription_id, d.event_type, d.created_at FROM deliveries d
			WHERE d.recovery_id = $1 AND d.recovery_pending AND d.status = 'failed' ORDER BY d.created_at, d.id`, recoveryID); err != nil {
			return err
		}
		if len(step.Start) == 0 && taken == 0 && pending == 0 {
			step.Done = true
			_, err := tx.ExecContext(ctx, `UPDATE recoveries SET status = 'completed', completed_at = $2 WHERE id = $1`, recoveryID, s.Now())
			return err
		}
		return nil
	})
	return step, err
}

// ReplayEvent creates new deliveries of one of the account's events, with its payload as
// first sent (the same webhook-id): to every subscription it matches now, or to the
// active subscription named.
func (s *DB) ReplayEvent(ctx context.Context, accountID, eventID, subscriptionID string) ([]hookflow.IngestedDelivery, error) {
	out := []hookflow.IngestedDelivery{}
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		e, err := findEvent(ctx, tx, accountID, eventID)
		if err != nil {
			return err
		}
		if e.EventType == hookflow.FulfilmentPending {
			return hookflow.Errorf(hookflow.ECONFLICT, "fulfilment_pending is fired again by a fulfilment check (POST /v1/fulfilment-checks), not replayed")
		}
		var subs []hookflow.Subscription
		if subscriptionID != "" {
			sub, err := findSubscription(ctx, tx, accountID, subscriptionID, false)
			if err != nil {
				return err
			}
			if !sub.Active {
				return hookflow.Errorf(hookflow.ECONFLICT, "the subscription is not active")
			}
			subs = []hookflow.Subscription{sub}
		} else if subs, err = matchingSubscriptions(ctx, tx, accountID, e.EventType, e.CampaignID); err != nil {
			return err
		}
		if len(subs) == 0 {
			return nil
		}
		// The bytes first sent, when there are any: jsonb keeps data, not its spelling, so
		// rendering the event again could send a body whose signature input differs.
		var payload []byte
		err = sqlx.GetContext(ctx, tx, &payload, `SELECT payload FROM deliveries WHERE event_id = $1
			AND subscription_id IS NOT NULL ORDER BY number LIMIT 1`, e.ID)
		if errors.Is(err, sql.ErrNoRows) {
			payload, err = hookflow.RenderPayload(e)
		}
		if err != nil {
			return err
		}
		ds := make([]deliveryInsert, len(subs))
		for i, sub := range subs {
			ds[i] = deliveryInsert{ID: uuid.NewString(), Event: e, SubscriptionID: sub.ID, Payload: payload,
				Test: e.EventType == hookflow.TestEventType, Policy: hookflow.PolicyLinear, CreatedAt: s.Now(), Held: sub.Paused}
		}
		if err := insertDeliveries(ctx, tx, ds...); err != nil {
			return err
		}
		rows, err := tx.QueryxContext(ctx, `SELECT number, id, subscription_id::text AS subscription_id, status
			FROM deliveries WHERE id = ANY($1) ORDER BY number`, deliveryKeys(ds))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var d hookflow.IngestedDelivery
			if err := rows.StructScan(&d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	if len(out) > 0 {
		s.wakeDispatchers()
	}
	return out, nil
}
