package store

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/hookflow/hookflow"
)

// Listing limits.
const (
	DefaultListLimit = 50
	MaxListLimit     = 100
)

type deliveryRow struct {
	ID             string         `db:"id"`
	Number         int64          `db:"number"`
	WorkflowID     string         `db:"workflow_id"`
	EntityIDNumber bool           `db:"entity_id_number"`
	AccountID      string         `db:"account_id"`
	EventID        string         `db:"event_id"`
	SubscriptionID sql.NullString `db:"subscription_id"`
	CampaignHookID sql.NullString `db:"campaign_webhook_id"`
	FulfilmentID   sql.NullString `db:"fulfilment_id"`
	EventType      string         `db:"event_type"`
	Action         string         `db:"action"`
	EntityType     string         `db:"entity_type"`
	EntityID       string         `db:"entity_id"`
	Status         string         `db:"status"`
	Attempts       int            `db:"attempts"`
	ResponseCode   *int           `db:"response_code"`
	ResponseBody   string         `db:"response_body"`
	LastError      string         `db:"last_error"`
	Changes        []byte         `db:"changes"`
	Payload        string         `db:"payload"`
	Test           bool           `db:"is_test"`
	DeliveredAt    *time.Time     `db:"delivered_at"`
	NextAttemptAt  *time.Time     `db:"next_attempt_at"`
	WaitingReason  sql.NullString `db:"waiting_reason"`
	WaitingSince   *time.Time     `db:"waiting_since"`
	WaitingFor     *int64         `db:"waiting_for"`
	CreatedAt      time.Time      `db:"created_at"`
}

// workflowIDColumn is a delivery's workflow id: the one it was started with before
// deliveries had numbers, else delivery-<number>.
const workflowIDColumn = `COALESCE(d.workflow_id, 'delivery-' || d.number) AS workflow_id`

const deliverySelect = `SELECT d.id, d.number, ` + workflowIDColumn + `, e.entity_id_number, d.account_id, d.event_id, d.subscription_id, d.campaign_webhook_id, d.fulfilment_id, d.event_type,
	e.action, e.entity_type, e.entity_id, d.status, d.attempts, d.response_code, d.response_body,
	d.last_error, e.changes, d.payload, d.is_test, d.delivered_at, d.next_attempt_at,
	` + shownWaitingReason + `, d.waiting_since, ` + waitingForColumn + `, d.created_at
	FROM deliveries d JOIN events e ON e.id = d.event_id`

// waitingForColumn is the number of the delivery a delivery waits for its turn behind.
const waitingForColumn = `(SELECT w.number FROM deliveries w WHERE d.waiting_reason = 'ordering' AND w.id = d.waiting_for) AS waiting_for`

// shownWaitingReason is why a delivery waits, as people see it: one a pause held is, once
// the pause has ended, waiting its turn for a slot like any other.
const shownWaitingReason = `CASE WHEN d.waiting_reason = 'paused' AND NOT EXISTS (SELECT 1 FROM subscriptions ps
		WHERE ps.id = d.subscription_id AND ps.paused_at IS NOT NULL) THEN 'in_flight_cap' ELSE d.waiting_reason END AS waiting_reason`

func (r deliveryRow) delivery() hookflow.Delivery {
	d := hookflow.Delivery{
		ID: r.Number, Key: r.ID, WorkflowID: r.WorkflowID, AccountID: r.AccountID, EventID: r.EventID, SubscriptionID: r.SubscriptionID.String,
		CampaignWebhookID: r.CampaignHookID.String, FulfilmentID: r.FulfilmentID.String,
		EventType: r.EventType, Action: r.Action, EntityType: r.EntityType, EntityID: hookflow.EntityID{Value: r.EntityID, Number: r.EntityIDNumber},
		Status: hookflow.Status(r.Status), Attempts: r.Attempts, ResponseCode: r.ResponseCode,
		ResponseBody: r.ResponseBody, LastError: r.LastError, ObjectChanges: json.RawMessage(r.Changes),
		Payload: json.RawMessage(r.Payload), Test: r.Test, DeliveredAt: utc(r.DeliveredAt),
		NextAttemptAt: utc(r.NextAttemptAt), CreatedAt: r.CreatedAt.UTC(),
	}
	if len(d.ObjectChanges) == 0 {
		d.ObjectChanges = json.RawMessage("null")
	}
	if r.WaitingReason.Valid {
		reason := hookflow.WaitReason(r.WaitingReason.String)
		d.WaitingReason, d.WaitingSince = &reason, utc(r.WaitingSince)
		d.WaitingFor = r.WaitingFor
	}
	return d
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

type attemptRow struct {
	Number       int       `db:"number"`
	StartedAt    time.Time `db:"started_at"`
	DurationMS   int64     `db:"duration_ms"`
	ResponseCode *int      `db:"response_code"`
	ResponseBody string    `db:"response_body"`
	Error        string    `db:"error"`
	Trigger      string    `db:"trigger"`
}

// FindDelivery returns one of the account's deliveries with its attempt log, by its
// number, or by the id deliveries had before they were numbered (so old links work).
func (s *DB) FindDelivery(ctx context.Context, accountID, id string) (hookflow.Delivery, error) {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil && n > 0 && strconv.FormatInt(n, 10) == id {
		return s.findDelivery(ctx, accountID, `d.number = $1`, n)
	}
	if uuid.Validate(id) == nil {
		return s.findDelivery(ctx, accountID, `d.id = $1`, id)
	}
	return hookflow.Delivery{}, notFound("delivery")
}

func (s *DB) findDelivery(ctx context.Context, accountID, cond string, arg any) (hookflow.Delivery, error) {
	var row deliveryRow
	err := s.db.GetContext(ctx, &row, deliverySelect+` WHERE `+cond+` AND d.account_id = $2`, arg, accountID)
	if errors.Is(err, sql.ErrNoRows) {
		return hookflow.Delivery{}, notFound("delivery")
	}
	if err != nil {
		return hookflow.Delivery{}, wrap(err)
	}
	d := row.delivery()
	var attempts []attemptRow
	if err := s.db.SelectContext(ctx, &attempts, `SELECT number, started_at, duration_ms, response_code,
		response_body, error, trigger FROM attempts WHERE delivery_id = $1 ORDER BY number`, row.ID); err != nil {
		return hookflow.Delivery{}, wrap(err)
	}
	d.AttemptLog = make([]hookflow.Attempt, len(attempts))
	for i, a := range attempts {
		d.AttemptLog[i] = hookflow.Attempt{Number: a.Number, StartedAt: a.StartedAt.UTC(), DurationMS: a.DurationMS,
			ResponseCode: a.ResponseCode, ResponseBody: a.ResponseBody, Error: a.Error, Trigger: hookflow.Trigger(a.Trigger)}
	}
	return d, nil
}

// ListDeliveries returns the account's deliveries newest first, keyset-paginated.
func (s *DB) ListDeliveries(ctx context.Context, accountID string, f hookflow.DeliveryFilter) (hookflow.DeliveryPage, error) {
	limit, err := listLimit(f.Limit)
	if err != nil {
		return hookflow.DeliveryPage{}, err
	}
	// Filters no row could match are refused before any that merely match nothing.
	if err := checkSharedFilters(f.EntityID, f.ResponseCode, f.Created); err != nil {
		return hookflow.DeliveryPage{}, err
	}
	q := newConditions("d.account_id = $1", accountID)
	add := q.add
	if f.SubscriptionID != "" {
		if uuid.Validate(f.SubscriptionID) != nil {
			return hookflow.DeliveryPage{Data: []hookflow.Delivery{}}, nil
		}
		add("d.subscription_id = $%d", f.SubscriptionID)
	}
	if f.CampaignID != "" {
		if !storableText(f.CampaignID) {
			return hookflow.DeliveryPage{Data: []hookflow.Delivery{}}, nil
		}
		add(`d.campaign_webhook_id IN (SELECT w.id FROM campaign_webhooks w JOIN campaigns c ON c.id = w.campaign_id
			WHERE c.account_id = $1 AND c.public_id = $%d AND c.deleted_at IS NULL)`, f.CampaignID)
	}
	if f.FulfilmentID != "" {
		if uuid.Validate(f.FulfilmentID) != nil {
			return hookflow.DeliveryPage{Data: []hookflow.Delivery{}}, nil
		}
		add("d.fulfilment_id = $%d", f.FulfilmentID)
	}
	if f.CampaignWebhookID != "" {
		if uuid.Validate(f.CampaignWebhookID) != nil {
			return hookflow.DeliveryPage{Data: []hookflow.Delivery{}}, nil
		}
		add("d.campaign_webhook_id = $%d", f.CampaignWebhookID)
	}
	if f.EventID != "" {
		if uuid.Validate(f.EventID) != nil {
			return hookflow.DeliveryPage{Data: []hookflow.Delivery{}}, nil
		}
		add("d.event_id = $%d", f.EventID)
	}
	if f.Status != "" {
		if !f.Status.Valid() {
			return hookflow.DeliveryPage{}, hookflow.Invalid("status", "must be pending, delivered, retrying or failed")
		}
		add("d.status = $%d", string(f.Status))
	}
	if f.EventType != "" {
		add("d.event_type = $%d", f.EventType)
	}
	if f.EntityID != "" {
		// The event is the delivery's, so of the same account: saying so lets the index of
		// the account's events by entity find the few events first.
		add("e.account_id = $1 AND e.entity_id = $%d", f.EntityID)
	}
	if f.ResponseCode != 0 {
		add("d.response_code = $%d", f.ResponseCode)
	}
	if err := q.newestFirst("d", f.Created, f.Cursor); err != nil {
		return hookflow.DeliveryPage{}, err
	}
	q.args = append(q.args, limit+1)
	query := deliverySelect + ` WHERE ` + q.clause() +
		fmt.Sprintf(` ORDER BY d.created_at DESC, d.id DESC LIMIT $%d`, len(q.args))
	var rows []deliveryRow
	if err := s.db.SelectContext(ctx, &rows, query, q.args...); err != nil {
		return hookflow.DeliveryPage{}, wrap(err)
	}
	page := hookflow.DeliveryPage{Data: []hookflow.Delivery{}}
	for i, r := range rows {
		if i == limit {
			last := rows[limit-1]
			c := encodeCursor(last.CreatedAt, last.ID)
			page.NextCursor = &c
			break
		}
		page.Data = append(page.Data, r.delivery())
	}
	return page, nil
}

// checkSharedFilters checks the filters the delivery and event listings share.
func checkSharedFilters(entityID string, responseCode int, created hookflow.CreatedWindow) error {
	if entityID != "" {
		if err := hookflow.CheckEntityIDFilter(entityID); err != nil {
			return err
		}
	}
	if err := hookflow.CheckResponseCode(responseCode); err != nil {
		return err
	}
	return created.Check()
}

// listLimit is a listing's page size: the default when 0, else 1 to MaxListLimit.
func listLimit(limit int) (int, error) {
	if limit == 0 {
		return DefaultListLimit, nil
	}
	if limit < 1 || limit > MaxListLimit {
		return 0, hookflow.Invalid("limit", "must be between 1 and %d", MaxListLimit)
	}
	return limit, nil
}

func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.UnixMicro(), 10) + "|" + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", err
	}
	micros, id, ok := strings.Cut(string(raw), "|")
	if !ok || uuid.Validate(id) != nil {
		return time.Time{}, "", errors.New("bad cursor")
	}
	n, err := strconv.ParseInt(micros, 10, 64)
	if err != nil {
		return time.Time{}, "", err
	}
	// Cursors come from rows, which are never older than 2000 or beyond 3000; anything
	// else was not made by this listing (and PostgreSQL could not compare it).
	if at := time.UnixMicro(n); at.Year() < 2000 || at.Year() > 3000 {
		return time.Time{}, "", errors.New("bad cursor")
	}
	return time.UnixMicro(n).UTC(), id, nil
}

// CreateTestDelivery creates a test event for the subscription, whose data is
// {"test": true}, and one delivery of it, and wakes the dispatchers.
func (s *DB) CreateTestDelivery(ctx context.Context, accountID, subscriptionID string) (hookflow.Delivery, error) {
	var id string
	err := s.inTx(ctx, func(tx *sqlx.Tx) error {
		sub, err := findSubscription(ctx, tx, accountID, subscriptionID, false)
		if err != nil {
			return err
		}
		e := hookflow.Event{ID: uuid.NewString(), AccountID: accountID, EventType: hookflow.TestEventType,
			Action: "created", EntityType: "subscription", EntityID: hookflow.EntityID{Value: sub.ID},
			Data: json.RawMessage(`{"test":true}`), CreatedAt: s.Now()}
		if err := insertEvent(ctx, tx, e); err != nil {
			return err
		}
		payload, err := hookflow.RenderPayload(e)
		if err != nil {
			return err
		}
		id = uuid.NewString()
		d := deliveryInsert{ID: id, Event: e, SubscriptionID: sub.ID, Payload: payload, Test: true, Policy: hookflow.PolicyLinear, Held: sub.Paused}
		return insertDeliveries(ctx, tx, d)
	})
	if err != nil {
		return hookflow.Delivery{}, err
	}
	s.wakeDispatchers()
	return s.findDelivery(ctx, accountID, `d.id = $1`, id)
}

// insertEvent writes an event that hookflow makes itself (a test, a fulfilment_pending);
// API clients' events are written with their deliveries by IngestEvent's one statement.
func insertEvent(ctx context.Context, tx *sqlx.Tx, e hookflow.Event) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO events (id, account_id, event_type, action, entity_type, entity_id,
		entity_id_number, campaign_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.ID, e.AccountID, e.EventType, e.Action, e.EntityType, e.EntityID.Value, e.EntityID.Number, e.CampaignID,
		string(e.Data), e.CreatedAt)
	return err
}

func stringArray(s []string) pq.StringArray { return pq.StringArray(s) }

// conditions is the WHERE clause of a listing and its arguments, built filter by filter.
type conditions struct {
	where []string
	args  []any
}

func newConditions(first string, args ...any) *conditions {
	return &conditions{where: []string{first}, args: args}
}

// add appends a condition whose one parameter is v; cond names it with a %d.
func (q *conditions) add(cond string, v any) {
	q.args = append(q.args, v)
	q.where = append(q.where, fmt.Sprintf(cond, len(q.args)))
}

// newestFirst adds a newest-first listing's time window and keyset cursor, on the
// created_at and id of the table aliased alias.
func (q *conditions) newestFirst(alias string, w hookflow.CreatedWindow, cursor string) error {
	if w.After != nil {
		q.add(alias+".created_at >= $%d", *w.After)
	}
	if w.Before != nil {
		q.add(alias+".created_at < $%d", *w.Before)
	}
	if cursor == "" {
		return nil
	}
	at, id, err := decodeCursor(cursor)
	if err != nil {
		return hookflow.Invalid("cursor", "is not a cursor returned by this listing")
	}
	q.args = append(q.args, at, id)
	q.where = append(q.where, fmt.Sprintf("(%s.created_at, %s.id) < ($%d, $%d)", alias, alias, len(q.args)-1, len(q.args)))
	return nil
}

func (q *conditions) clause() string { return strings.Join(q.where, " AND ") }
