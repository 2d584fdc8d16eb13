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
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/tracing"
)

// DispatchChannel is the NOTIFY channel that wakes dispatchers when deliveries commit
// (see wakeDispatchers).
const DispatchChannel = "hookflow_dispatch"

type eventRow struct {
	ID         string `db:"id"`
	AccountID  string `db:"account_id"`
	EventType  string `db:"event_type"`
	Action     string `db:"action"`
	EntityType string `db:"entity_type"`
	EntityID   string `db:"entity_id"`
	EntityNum  bool   `db:"entity_id_number"`
	CampaignID string `db:"campaign_id"`
	// OrderingKey is NULL when the event gave none.
	OrderingKey *string   `db:"ordering_key"`
	Data        []byte    `db:"data"`
	Changes     []byte    `db:"changes"`
	CreatedAt   time.Time `db:"created_at"`
}

func (r eventRow) event() hookflow.Event {
	e := hookflow.Event{
		ID: r.ID, AccountID: r.AccountID, EventType: r.EventType, Action: r.Action,
		EntityType: r.EntityType, EntityID: hookflow.EntityID{Value: r.EntityID, Number: r.EntityNum}, CampaignID: r.CampaignID,
		Data: json.RawMessage(r.Data), Changes: json.RawMessage(r.Changes), CreatedAt: r.CreatedAt.UTC(),
	}
	if r.OrderingKey != nil {
		e.OrderingKey = *r.OrderingKey
	}
	return e
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
	e := hookflow.Event{
		ID: uuid.NewString(), AccountID: accountID, EventType: in.EventType, Action: in.Action,
		EntityType: in.EntityType, EntityID: in.EntityID, CampaignID: string(in.CampaignID),
		OrderingKey: in.OrderingKey, Data: in.Data, Changes: in.Changes, CreatedAt: s.Now(),
	}
	// Who gets the event is read first; the event and its deliveries are then written by
	// one statement, atomic on its own: ingest costs two round trips to PostgreSQL.
	deliveries, err := planFanOut(ctx, s.hot, e, "")
	if err != nil {
		return hookflow.Ingested{}, wrap(err)
	}
	var ordered pq.StringArray
	var orderingKey string
	for i := range deliveries {
		if deliveries[i].Ordered {
			if orderingKey == "" {
				orderingKey = hookflow.OrderingKeyOf(in.OrderingKey, e.EntityType, e.EntityID)
			}
			deliveries[i].OrderingKey = orderingKey
			ordered = append(ordered, deliveries[i].SubscriptionID)
		}
	}
	var changes any
	if len(e.Changes) > 0 {
		changes = string(e.Changes)
	}
	args := []any{e.ID, accountID, e.EventType, e.Action, e.EntityType, e.EntityID.Value, e.CampaignID,
		string(e.Data), changes, key, requestHash, e.CreatedAt, e.EntityID.Number, e.OrderingKey}
	query := `WITH ev AS (
			INSERT INTO events (id, account_id, event_type, action, entity_type, entity_id, campaign_id,
				data, changes, idempotency_key, request_hash, created_at, entity_id_number, ordering_key)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, NULLIF($14, ''))
			ON CONFLICT (account_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING id)`
	numbers := `'{}'::json`
	if len(ordered) > 0 {
		// Each fifo subscription's delivery takes the next place of the event's ordering
		// key. The key's row stays locked until this statement commits, so a concurrent
		// ingest for the same key takes the place after it and commits after it too.
		args = append(args, ordered, orderingKey)
		query += `, seqs AS (
			INSERT INTO ordering_keys (subscription_id, ordering_key, last_seq, used_at)
			SELECT k.subscription_id, $16, 1, $12 FROM unnest($15::uuid[]) AS k(subscription_id)
			WHERE EXISTS (SELECT 1 FROM ev)
			ON CONFLICT (subscription_id, ordering_key) DO UPDATE SET last_seq = ordering_keys.last_seq + 1, used_at = EXCLUDED.used_at
			RETURNING subscription_id, last_seq)`
	}
	if len(deliveries) > 0 {
		values, valueArgs := deliveryValues(deliveries, len(args))
		args = append(args, valueArgs...)
		if len(ordered) > 0 {
			query += `, d AS (INSERT INTO deliveries (` + deliveryColumns + `, ordering_seq)
				SELECT v.*, seqs.last_seq FROM (` + values + `) AS v LEFT JOIN seqs ON seqs.subscription_id = v.column4 AND v.column16 IS NOT NULL
				WHERE EXISTS (SELECT 1 FROM ev) RETURNING id, number)`
		} else {
			query += `, d AS (INSERT INTO deliveries (` + deliveryColumns + `)
				SELECT * FROM (` + values + `) AS v WHERE EXISTS (SELECT 1 FROM ev) RETURNING id, number)`
		}
		numbers = `(SELECT COALESCE(json_object_agg(id, number), '{}') FROM d)`
	}
	query += ` SELECT (SELECT count(*) FROM ev) AS inserted, ` + numbers + ` AS numbers`
	// The statement's text depends on how many deliveries it writes; the usual counts
	// are few, so those run prepared.
	var q sqlx.QueryerContext = s.db
	if len(deliveries) <= maxPreparedFanOut {
		q = s.hot
	}
	var result struct {
		Inserted int    `db:"inserted"`
		Numbers  []byte `db:"numbers"`
	}
	if err := sqlx.GetContext(ctx, q, &result, query, args...); err != nil {
		return hookflow.Ingested{}, wrap(err)
	}
	if result.Inserted == 0 {
		// The idempotency key was used before: answer what the first request got.
		out, err := repeatedIngest(ctx, s.db, accountID, idempotencyKey, requestHash)
		return out, wrap(err)
	}
	if len(deliveries) > 0 {
		s.wakeDispatchers()
	}
	var number map[string]int64
	if err := json.Unmarshal(result.Numbers, &number); err != nil {
		return hookflow.Ingested{}, err
	}
	out := hookflow.Ingested{EventID: e.ID, Deliveries: make([]hookflow.IngestedDelivery, len(deliveries))}
	for i, d := range deliveries {
		out.Deliveries[i] = hookflow.IngestedDelivery{ID: number[d.ID], Key: d.ID, SubscriptionID: d.SubscriptionID,
			CampaignWebhookID: d.CampaignWebhookID, Status: hookflow.StatusPending}
	}
	return out, nil
}

// maxPreparedFanOut is the most deliveries an ingest statement writes and still runs
// prepared; it bounds how many texts of it the statement cache keeps.
const maxPreparedFanOut = 16

func repeatedIngest(ctx context.Context, q sqlx.QueryerContext, accountID, key string, requestHash []byte) (hookflow.Ingested, error) {
	var first struct {
		ID   string `db:"id"`
		Hash []byte `db:"request_hash"`
	}
	err := sqlx.GetContext(ctx, q, &first, `SELECT id, request_hash FROM events WHERE account_id = $1 AND idempotency_key = $2`, accountID, key)
	if err != nil {
		return hookflow.Ingested{}, err
	}
	if !bytes.Equal(first.Hash, requestHash) {
		return hookflow.Ingested{}, hookflow.Errorf(hookflow.ECONFLICT, "Idempotency-Key was already used with a different request body")
	}
	out := hookflow.Ingested{EventID: first.ID, Deliveries: []hookflow.IngestedDelivery{}, Replayed: true}
	// Every delivery was pending in the first answer, whatever it has become since: the
	// same key gets the same answer, and the delivery's own record tells its progress.
	err = sqlx.SelectContext(ctx, q, &out.Deliveries, `SELECT id, number, COALESCE(subscription_id::text, '') AS subscription_id,
		COALESCE(campaign_webhook_id::text, '') AS campaign_webhook_id, 'pending' AS status FROM deliveries d
		WHERE event_id = $1
		-- The order of the first answer: subscriptions, then campaign webhooks, each oldest first.
		ORDER BY campaign_webhook_id IS NOT NULL,
			(SELECT created_at FROM subscriptions s WHERE s.id = d.subscription_id), subscription_id,
			(SELECT created_at FROM campaign_webhooks w WHERE w.id = d.campaign_webhook_id), campaign_webhook_id`, first.ID)
	return out, err
}

func matchingSubscriptions(ctx context.Context, q sqlx.QueryerContext, accountID, eventType, campaignID string) ([]hookflow.Subscription, error) {
	var rows []subscriptionRow
	err := sqlx.SelectContext(ctx, q, &rows, `SELECT `+subscriptionColumns+` FROM subscriptions
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

// planFanOut decides the deliveries of an event: subscriptions first (oldest first), then
// campaign webhooks, each with its payload and retry policy.
func planFanOut(ctx context.Context, q sqlx.QueryerContext, e hookflow.Event, fulfilmentID string) ([]deliveryInsert, error) {
	var ds []deliveryInsert
	traceParent := tracing.TraceParent(ctx)
	subs, err := matchingSubscriptions(ctx, q, e.AccountID, e.EventType, e.CampaignID)
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
		for _, sub := range subs {
			ds = append(ds, deliveryInsert{ID: uuid.NewString(), Event: e, SubscriptionID: sub.ID, FulfilmentID: fulfilmentID, Payload: payload,
				Policy: policy, TraceParent: traceParent, Held: sub.Paused, Ordered: sub.Ordering == hookflow.OrderingFIFO})
		}
	}
	hooks, err := campaignWebhooksFor(ctx, q, e, fulfilmentID)
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
		for _, hookID := range hooks {
			ds = append(ds, deliveryInsert{ID: uuid.NewString(), Event: e, CampaignWebhookID: hookID, FulfilmentID: fulfilmentID, Payload: payload, Policy: policy, TraceParent: traceParent})
		}
	}
	return ds, nil
}

// campaignWebhooksFor returns the ids of the campaign webhook URLs an event goes to: the
// default ones for standard legacy events, the fulfilment ones for fulfilment_pending.
func campaignWebhooksFor(ctx context.Context, q sqlx.QueryerContext, e hookflow.Event, fulfilmentID string) ([]string, error) {
	var kind string
	switch {
	case e.EventType == hookflow.FulfilmentPending:
		kind = hookflow.WebhookFulfilment
	case hookflow.IsStandardLegacyEvent(e.EventType):
		kind = hookflow.WebhookDefault
	default:
		return nil, nil
	}
	var ids []string
	if fulfilmentID != "" {
		// A fulfilment belongs to the campaign it was created for, not to whichever
		// campaign carries that id now (a deleted campaign's id can be used again): a
		// deleted campaign's fulfilments go to no campaign URL.
		err := sqlx.SelectContext(ctx, q, &ids, `SELECT w.id FROM fulfilments f JOIN campaigns c ON c.id = f.campaign_id
			JOIN campaign_webhooks w ON w.campaign_id = c.id
			WHERE f.id = $1 AND c.deleted_at IS NULL AND w.kind = $2 AND w.removed_at IS NULL ORDER BY w.created_at, w.id`,
			fulfilmentID, kind)
		return ids, err
	}
	if e.CampaignID == "" {
		return nil, nil
	}
	err := sqlx.SelectContext(ctx, q, &ids, `SELECT w.id FROM campaign_webhooks w JOIN campaigns c ON c.id = w.campaign_id
		WHERE c.public_id = $1 AND c.account_id = $2 AND c.deleted_at IS NULL AND w.kind = $3 AND w.removed_at IS NULL
		ORDER BY w.created_at, w.id`,
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
	// CreatedAt is the event's when zero; a replay's deliveries are created when it is.
	CreatedAt time.Time
	// TraceParent joins the dispatch of the delivery to the trace that created it.
	TraceParent string
	// Held is set for a subscription that is paused: the delivery waits, without a
	// workflow, until the resume releases it.
	Held bool
	// Ordered is set for a fifo subscription's delivery; OrderingKey is then its event's
	// key when the delivery is to be ordered (events posted by the API client: hookflow's
	// own and the fulfilment protocol's are not).
	Ordered     bool
	OrderingKey string
}

func (d deliveryInsert) createdAt() time.Time {
	if d.CreatedAt.IsZero() {
		return d.Event.CreatedAt
	}
	return d.CreatedAt
}

func deliveryKeys(ds []deliveryInsert) pq.StringArray {
	keys := make(pq.StringArray, len(ds))
	for i, d := range ds {
		keys[i] = d.ID
	}
	return keys
}

const deliveryColumns = `id, account_id, event_id, subscription_id, campaign_webhook_id, fulfilment_id,
	event_type, payload, is_test, policy, created_at, trace_parent, waiting_reason, waiting_since, waiting_until, ordering_key`

// deliveryValues renders ds as a VALUES list whose parameters start after argOffset, with
// casts so it also works as a subquery.
func deliveryValues(ds []deliveryInsert, argOffset int) (string, []any) {
	const columns = 16
	var sb strings.Builder
	sb.WriteString("VALUES ")
	args := make([]any, 0, len(ds)*columns)
	for i, d := range ds {
		if i > 0 {
			sb.WriteString(", ")
		}
		n := argOffset + i*columns
		fmt.Fprintf(&sb, "($%d::uuid, $%d::uuid, $%d::uuid, NULLIF($%d, '')::uuid, NULLIF($%d, '')::uuid, NULLIF($%d, '')::uuid, $%d::text, $%d::text, $%d::boolean, $%d::text, $%d::timestamptz, NULLIF($%d, '')::text, NULLIF($%d, '')::text, $%d::timestamptz, $%d::timestamptz, NULLIF($%d, '')::text)",
			n+1, n+2, n+3, n+4, n+5, n+6, n+7, n+8, n+9, n+10, n+11, n+12, n+13, n+14, n+15, n+16)
		args = append(args, d.ID, d.Event.AccountID, d.Event.ID, d.SubscriptionID, d.CampaignWebhookID, d.FulfilmentID,
			d.Event.EventType, string(d.Payload), d.Test, string(d.Policy), d.createdAt(), d.TraceParent)
		if d.Held {
			at := d.createdAt()
			args = append(args, string(hookflow.WaitPaused), at, at)
		} else {
			args = append(args, "", nil, nil)
		}
		args = append(args, d.OrderingKey)
	}
	return sb.String(), args
}

// insertDeliveries writes the deliveries in one statement; the caller wakes the
// dispatchers after the commit.
func insertDeliveries(ctx context.Context, tx *sqlx.Tx, ds ...deliveryInsert) error {
	if len(ds) == 0 {
		return nil
	}
	values, args := deliveryValues(ds, 0)
	_, err := tx.ExecContext(ctx, `INSERT INTO deliveries (`+deliveryColumns+`) `+values, args...)
	return err
}

// FindEvent returns one of the account's events with the summary of its deliveries.
func (s *DB) FindEvent(ctx context.Context, accountID, id string) (hookflow.EventRecord, error) {
	e, err := findEvent(ctx, s.db, accountID, id)
	if err != nil {
		return hookflow.EventRecord{}, wrap(err)
	}
	summary, err := summarizeDeliveries(ctx, s.db, e.ID)
	return hookflow.EventRecord{Event: e, Deliveries: summary}, wrap(err)
}

func findEvent(ctx context.Context, q sqlx.QueryerContext, accountID, id string) (hookflow.Event, error) {
	if uuid.Validate(id) != nil {
		return hookflow.Event{}, notFound("event")
	}
	var row eventRow
	err := sqlx.GetContext(ctx, q, &row, `SELECT id, account_id, event_type, action, entity_type, entity_id,
		entity_id_number, campaign_id, ordering_key, data, changes, created_at FROM events WHERE id = $1 AND account_id = $2`, id, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Event{}, notFound("event")
	}
	if err != nil {
		return hookflow.Event{}, err
	}
	return row.event(), nil
}
