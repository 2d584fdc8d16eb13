package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"

	"github.com/hookflow/hookflow"
)

// DispatchChannel is the NOTIFY channel that wakes dispatchers when deliveries commit; the
// insert trigger of schema/00006_dispatch_trigger.sql notifies it.
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
		deliveries, err := fanOut(ctx, tx, e, "")
		if err != nil {
			return err
		}
		out = hookflow.Ingested{EventID: e.ID, Deliveries: deliveries}
		return nil
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
	err = tx.SelectContext(ctx, &out.Deliveries, `SELECT id, COALESCE(subscription_id::text, '') AS subscription_id,
		COALESCE(campaign_webhook_id::text, '') AS campaign_webhook_id, status FROM deliveries d
		WHERE event_id = $1
		-- The order of the first answer: subscriptions, then campaign webhooks, each oldest first.
		ORDER BY campaign_webhook_id IS NOT NULL,
			(SELECT created_at FROM subscriptions s WHERE s.id = d.subscription_id), subscription_id,
			(SELECT created_at FROM campaign_webhooks w WHERE w.id = d.campaign_webhook_id), campaign_webhook_id`, first.ID)
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

// fanOut creates one pending delivery of the event for every active subscription that
// matches it and, for a campaign's events, every campaign webhook URL of the right kind;
// then it wakes the dispatchers (NOTIFY is delivered at commit). fulfilmentID ties the
// deliveries of fulfilment_pending to their fulfilment.
func fanOut(ctx context.Context, tx *sqlx.Tx, e hookflow.Event, fulfilmentID string) ([]hookflow.IngestedDelivery, error) {
	out := []hookflow.IngestedDelivery{}
	subs, err := matchingSubscriptions(ctx, tx, e.AccountID, e.EventType, e.CampaignID)
	if err != nil {
		return nil, err
	}
	fulfilment := e.EventType == hookflow.FulfilmentPending
	if len(subs) > 0 {
		payload, err := hookflow.RenderPayload(e)
		if err != nil {
			return nil, err
		}
		policy := hookflow.PolicyLinear
		if fulfilment {
			policy = hookflow.PolicySchedule
		}
		batch := make([]deliveryInsert, len(subs))
		for i, sub := range subs {
			batch[i] = deliveryInsert{ID: uuid.NewString(), Event: e, SubscriptionID: sub.ID, FulfilmentID: fulfilmentID, Payload: payload, Policy: policy}
			out = append(out, hookflow.IngestedDelivery{ID: batch[i].ID, SubscriptionID: sub.ID, Status: hookflow.StatusPending})
		}
		if err := insertDeliveries(ctx, tx, batch...); err != nil {
			return nil, err
		}
	}
	hooks, err := campaignWebhooksFor(ctx, tx, e)
	if err != nil {
		return nil, err
	}
	if len(hooks) > 0 {
		payload, err := hookflow.RenderLegacyPayload(e)
		if err != nil {
			return nil, err
		}
		// Standard legacy events are never retried automatically; fulfilment_pending
		// follows the fulfilment schedule.
		policy := hookflow.PolicyNone
		if fulfilment {
			policy = hookflow.PolicySchedule
		}
		batch := make([]deliveryInsert, len(hooks))
		for i, hookID := range hooks {
			batch[i] = deliveryInsert{ID: uuid.NewString(), Event: e, CampaignWebhookID: hookID, FulfilmentID: fulfilmentID, Payload: payload, Policy: policy}
			out = append(out, hookflow.IngestedDelivery{ID: batch[i].ID, CampaignWebhookID: hookID, Status: hookflow.StatusPending})
		}
		if err := insertDeliveries(ctx, tx, batch...); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// campaignWebhooksFor returns the ids of the campaign webhook URLs an event goes to: the
// default ones for standard legacy events, the fulfilment ones for fulfilment_pending.
func campaignWebhooksFor(ctx context.Context, tx *sqlx.Tx, e hookflow.Event) ([]string, error) {
	var kind string
	switch {
	case e.EventType == hookflow.FulfilmentPending:
		kind = hookflow.WebhookFulfilment
	case hookflow.IsStandardLegacyEvent(e.EventType):
		kind = hookflow.WebhookDefault
	default:
		return nil, nil
	}
	if uuid.Validate(e.CampaignID) != nil {
		return nil, nil
	}
	var ids []string
	err := tx.SelectContext(ctx, &ids, `SELECT w.id FROM campaign_webhooks w JOIN campaigns c ON c.id = w.campaign_id
		WHERE c.id = $1 AND c.account_id = $2 AND w.kind = $3 AND w.removed_at IS NULL ORDER BY w.created_at, w.id`,
		e.CampaignID, e.AccountID, kind)
	return ids, err
}

type deliveryInsert struct {
	ID                string
	Event             hookflow.Event
	SubscriptionID    string
	CampaignWebhookID string
	FulfilmentID      string
	Payload           []byte
	Test              bool
	Policy            hookflow.PolicyKind
}

// insertDeliveries writes the deliveries in one statement: one round trip per event
// however many subscriptions match (the insert trigger wakes the dispatchers).
func insertDeliveries(ctx context.Context, tx *sqlx.Tx, ds ...deliveryInsert) error {
	if len(ds) == 0 {
		return nil
	}
	const columns = 11
	var sb strings.Builder
	sb.WriteString(`INSERT INTO deliveries (id, account_id, event_id, subscription_id, campaign_webhook_id, fulfilment_id,
		event_type, payload, is_test, policy, created_at) VALUES `)
	args := make([]any, 0, len(ds)*columns)
	for i, d := range ds {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := i * columns
		fmt.Fprintf(&sb, "($%d, $%d, $%d, NULLIF($%d, '')::uuid, NULLIF($%d, '')::uuid, NULLIF($%d, '')::uuid, $%d, $%d, $%d, $%d, $%d)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11)
		args = append(args, d.ID, d.Event.AccountID, d.Event.ID, d.SubscriptionID, d.CampaignWebhookID, d.FulfilmentID,
			d.Event.EventType, string(d.Payload), d.Test, string(d.Policy), d.Event.CreatedAt)
	}
	_, err := tx.ExecContext(ctx, sb.String(), args...)
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
