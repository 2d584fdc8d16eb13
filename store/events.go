package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// DispatchChannel is the NOTIFY channel that wakes dispatchers when deliveries commit.
const DispatchChannel = "hookflow_dispatch"

type eventRow struct {
	ID         string    `db:"id"`
	AccountID  string    `db:"account_id"`
	EventType  string    `db:"event_type"`
	Action     string    `db:"action"`
	EntityType string    `db:"entity_type"`
	EntityID   string    `db:"entity_id"`
	CampaignID string    `db:"campaign_id"`
	Data       []byte    `db:"data"`
	Changes    []byte    `db:"changes"`
	CreatedAt  time.Time `db:"created_at"`
}

func (r eventRow) event() hookflow.Event {
	return hookflow.Event{
		ID: r.ID, AccountID: r.AccountID, EventType: r.EventType, Action: r.Action,
		EntityType: r.EntityType, EntityID: r.EntityID, CampaignID: r.CampaignID,
		Data: json.RawMessage(r.Data), Changes: json.RawMessage(r.Changes), CreatedAt: r.CreatedAt.UTC(),
	}
}

// IngestEvent writes the event and one pending delivery per matching subscription in one
// transaction, and wakes the dispatchers when it commits. A repeated idempotency key
// returns the deliveries of the first request; with a different body it is a conflict.
func (s *DB) IngestEvent(ctx context.Context, accountID string, in hookflow.EventInput, idempotencyKey string) (hookflow.Ingested, error) {
	var requestHash []byte
	var key any
	if idempotencyKey != "" {
		canonical, err := json.Marshal(in)
		if err != nil {
			return hookflow.Ingested{}, err
		}
		sum := sha256.Sum256(canonical)
		requestHash, key = sum[:], idempotencyKey
	}
	var out hookflow.Ingested
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		e := hookflow.Event{
			ID: uuid.NewString(), AccountID: accountID, EventType: in.EventType, Action: in.Action,
			EntityType: in.EntityType, EntityID: in.EntityID, CampaignID: in.CampaignID,
			Data: in.Data, Changes: in.Changes, CreatedAt: s.Now(),
		}
		var changes any
		if len(e.Changes) > 0 {
			changes = []byte(e.Changes)
		}
		rows, err := tx.QueryContext(ctx, `
			INSERT INTO events (id, account_id, event_type, action, entity_type, entity_id, campaign_id,
				data, changes, idempotency_key, request_hash, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id`,
			e.ID, accountID, e.EventType, e.Action, e.EntityType, e.EntityID, e.CampaignID,
			[]byte(e.Data), changes, key, requestHash, e.CreatedAt)
		if err != nil {
			return err
		}
		inserted := rows.Next()
		if err := errors.Join(rows.Err(), rows.Close()); err != nil {
			return err
		}
		if !inserted {
			out, err = repeatedIngest(ctx, tx, accountID, idempotencyKey, requestHash)
			return err
		}
		subs, err := matchingSubscriptions(ctx, tx, accountID, e.EventType, e.CampaignID)
		if err != nil {
			return err
		}
		payload, err := hookflow.RenderPayload(e)
		if err != nil {
			return err
		}
		out = hookflow.Ingested{EventID: e.ID, Deliveries: []hookflow.IngestedDelivery{}}
		for _, sub := range subs {
			d := hookflow.IngestedDelivery{ID: uuid.NewString(), SubscriptionID: sub.ID, Status: hookflow.StatusPending}
			if err := insertDelivery(ctx, tx, d.ID, accountID, e, sub.ID, payload, false); err != nil {
				return err
			}
			out.Deliveries = append(out.Deliveries, d)
		}
		if len(subs) > 0 {
			_, err = tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, DispatchChannel)
		}
		return err
	})
	return out, err
}

func repeatedIngest(ctx context.Context, tx *sqlx.Tx, accountID, key string, requestHash []byte) (hookflow.Ingested, error) {
	var first struct {
		ID   string `db:"id"`
		Hash []byte `db:"request_hash"`
	}
	err := tx.GetContext(ctx, &first, `SELECT id, request_hash FROM events WHERE account_id = $1 AND idempotency_key = $2`, accountID, key)
	if err != nil {
		return hookflow.Ingested{}, err
	}
	if !bytes.Equal(first.Hash, requestHash) {
		return hookflow.Ingested{}, hookflow.Errorf(hookflow.ECONFLICT, "Idempotency-Key was already used with a different request body")
	}
	out := hookflow.Ingested{EventID: first.ID, Deliveries: []hookflow.IngestedDelivery{}}
	err = tx.SelectContext(ctx, &out.Deliveries, `SELECT id, subscription_id, status FROM deliveries
		WHERE event_id = $1 ORDER BY id`, first.ID)
	return out, err
}

func matchingSubscriptions(ctx context.Context, tx *sqlx.Tx, accountID, eventType, campaignID string) ([]hookflow.Subscription, error) {
	var rows []subscriptionRow
	err := tx.SelectContext(ctx, &rows, `SELECT `+subscriptionColumns+` FROM subscriptions
		WHERE account_id = $1 AND active AND deleted_at IS NULL ORDER BY created_at, id`, accountID)
	if err != nil {
		return nil, err
	}
	var subs []hookflow.Subscription
	for _, r := range rows {
		sub := r.subscription()
		if sub.Matches(eventType, campaignID) {
			subs = append(subs, sub)
		}
	}
	return subs, nil
}

func insertDelivery(ctx context.Context, tx *sqlx.Tx, id, accountID string, e hookflow.Event, subscriptionID string, payload []byte, test bool) error {
	_, err := tx.ExecContext(ctx, `
		INSERT INTO deliveries (id, account_id, event_id, subscription_id, event_type, payload, is_test, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		id, accountID, e.ID, subscriptionID, e.EventType, string(payload), test, e.CreatedAt)
	return err
}

// FindEvent returns one of the account's events.
func (s *DB) FindEvent(ctx context.Context, accountID, id string) (hookflow.Event, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Event{}, notFound("event")
	}
	var row eventRow
	err := s.db.GetContext(ctx, &row, `SELECT id, account_id, event_type, action, entity_type, entity_id,
		campaign_id, data, changes, created_at FROM events WHERE id = $1 AND account_id = $2`, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Event{}, notFound("event")
	}
	if err != nil {
		return hookflow.Event{}, wrap(err)
	}
	return row.event(), nil
}
