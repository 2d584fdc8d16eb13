// Package hookflow holds the domain of the webhook delivery service: accounts,
// subscriptions, events, deliveries and their attempts, retry policies, and the store
// interfaces the rest of the program is written against. It imports the standard library
// only.
package hookflow

import (
	"context"
	"encoding/json"
	"strings"
	"time"
)

// Account is a tenant: an API client whose events are delivered to its subscriptions.
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	// KeyID and Scope are those of the API key the account was authenticated with (empty
	// when it was not authenticated with a key).
	KeyID string `json:"-"`
	Scope Scope  `json:"-"`
}

// NewAccount is the answer to creating an account: the only time its API key is shown.
type NewAccount struct {
	Account
	APIKey string `json:"api_key"`
}

// Status is the state of a delivery.
type Status string

const (
	StatusPending   Status = "pending"   // queued, not attempted
	StatusDelivered Status = "delivered" // an attempt got a 2xx
	StatusRetrying  Status = "retrying"  // an attempt failed, another is scheduled
	StatusFailed    Status = "failed"    // attempts exhausted
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusDelivered, StatusRetrying, StatusFailed:
		return true
	}
	return false
}

// WaitReason says why a delivery is waiting for its endpoint instead of being attempted.
// A wait is not an attempt: it spends none of the delivery's retries.
type WaitReason string

const (
	// WaitThrottled: the endpoint answered 429, 502, 503 or 504 to one of the
	// subscription's deliveries, so all of them slow down.
	WaitThrottled WaitReason = "throttled"
	// WaitRateLimited: the subscription's rate_limit lets the next request out later.
	WaitRateLimited WaitReason = "rate_limited"
	// WaitInFlightCap: as many attempts to this endpoint as a worker allows are in flight.
	WaitInFlightCap WaitReason = "in_flight_cap"
)

// Trigger says what caused an attempt.
type Trigger string

const (
	TriggerAutomatic Trigger = "automatic" // the first attempt or a scheduled retry
	TriggerManual    Trigger = "manual"    // a person asked for it
	TriggerRecovery  Trigger = "recovery"  // a recovery retried the failed delivery
)

// Event is what an API client posted: one change to one entity.
type Event struct {
	ID         string   `json:"id"`
	AccountID  string   `json:"-"`
	EventType  string   `json:"event_type"`
	Action     string   `json:"action,omitempty"`
	EntityType string   `json:"entity_type,omitempty"`
	EntityID   EntityID `json:"entity_id"`
	CampaignID string   `json:"campaign_id,omitempty"`
	// OrderingKey is the ordering_key the event was posted with, if any.
	OrderingKey string          `json:"ordering_key,omitempty"`
	Data        json.RawMessage `json:"data"`
	Changes     json.RawMessage `json:"changes,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
}

// Delivery is one event on its way to one subscription.
type Delivery struct {
	// ID is the delivery's number, what the API and the dashboard name it by.
	ID int64 `json:"id"`
	// Key is the delivery's internal id, what its workflow's steps name it by.
	Key string `json:"-"`
	// WorkflowID is its workflow's id in Temporal.
	WorkflowID     string `json:"workflow_id"`
	AccountID      string `json:"-"`
	EventID        string `json:"event_id"`
	SubscriptionID string `json:"subscription_id,omitempty"`
	// CampaignWebhookID is set instead of SubscriptionID for legacy campaign webhooks.
	CampaignWebhookID string `json:"campaign_webhook_id,omitempty"`
	// FulfilmentID is set on deliveries of fulfilment_pending.
	FulfilmentID  string          `json:"fulfilment_id,omitempty"`
	EventType     string          `json:"event_type"`
	Action        string          `json:"action"`
	EntityType    string          `json:"entity_type"`
	EntityID      EntityID        `json:"entity_id"`
	Status        Status          `json:"status"`
	Attempts      int             `json:"attempts"`
	ResponseCode  *int            `json:"response_code"`
	ResponseBody  string          `json:"response_body"`
	LastError     string          `json:"last_error"`
	ObjectChanges json.RawMessage `json:"object_changes"`
	Payload       json.RawMessage `json:"payload"`
	Test          bool            `json:"test"`
	DeliveredAt   *time.Time      `json:"delivered_at"`
	NextAttemptAt *time.Time      `json:"next_attempt_at"`
	// WaitingReason and WaitingSince are set while the delivery waits for its endpoint
	// (throttled, rate-limited or behind the in-flight cap) rather than for its next
	// attempt.
	WaitingReason *WaitReason `json:"waiting_reason"`
	WaitingSince  *time.Time  `json:"waiting_since"`
	// WaitingFor is the delivery this one waits for, while it waits for its turn
	// (waiting_reason "ordering").
	WaitingFor *int64    `json:"waiting_for,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	AttemptLog []Attempt `json:"attempt_log,omitempty"`
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	Number       int       `json:"number"`
	StartedAt    time.Time `json:"started_at"`
	DurationMS   int64     `json:"duration_ms"`
	ResponseCode *int      `json:"response_code"`
	ResponseBody string    `json:"response_body"`
	Error        string    `json:"error"`
	Trigger      Trigger   `json:"trigger"`
}

// Succeeded reports whether the attempt got a 2xx answer.
func (a Attempt) Succeeded() bool {
	return a.Error == "" && a.ResponseCode != nil && *a.ResponseCode >= 200 && *a.ResponseCode < 300
}

// Limits of what a delivery record keeps of an answer.
const (
	MaxResponseBodyChars = 1000
	MaxErrorChars        = 1000
)

// Excerpt is s as a delivery record keeps it: valid UTF-8 without NUL (PostgreSQL's text
// holds neither, and an endpoint may answer with anything, binary included), at most n
// characters. What cannot be kept is shown as U+FFFD.
func Excerpt(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
	return Truncate(s, n)
}

// Truncate cuts s to at most n characters (runes, not bytes, so no character is split).
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	count := 0
	for i := range s {
		if count == n {
			return s[:i]
		}
		count++
	}
	return s
}

// DeliveryFilter selects deliveries in a listing.
type DeliveryFilter struct {
	SubscriptionID string
	// CampaignID selects the deliveries to a campaign's webhook URLs (by the campaign's
	// id), CampaignWebhookID those to one of them.
	CampaignID        string
	CampaignWebhookID string
	// FulfilmentID selects the deliveries of a fulfilment's fulfilment_pending events.
	FulfilmentID string
	Status       Status
	EventType    string
	EventID      string
	// EntityID selects the deliveries of the events about one entity (deliveries carry
	// their event's entity).
	EntityID string
	// ResponseCode selects the deliveries whose last answer had this HTTP status (0: any).
	ResponseCode int
	Created      CreatedWindow
	Limit        int
	// Cursor is opaque to clients: it continues a listing after the last row returned.
	Cursor string
}

// DeliveryPage is one page of a listing, newest first.
type DeliveryPage struct {
	Data       []Delivery `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

// Ingested is the answer to posting an event.
type Ingested struct {
	EventID    string             `json:"event_id"`
	Deliveries []IngestedDelivery `json:"deliveries"`
	// Replayed is set when the answer repeats an earlier request's (same Idempotency-Key).
	Replayed bool `json:"-"`
}

// IngestedDelivery is one delivery created by an ingest.
type IngestedDelivery struct {
	ID                int64  `json:"id" db:"number"`
	Key               string `json:"-" db:"id"`
	SubscriptionID    string `json:"subscription_id,omitempty" db:"subscription_id"`
	CampaignWebhookID string `json:"campaign_webhook_id,omitempty" db:"campaign_webhook_id"`
	Status            Status `json:"status" db:"status"`
}

// DispatchItem is a committed delivery whose workflow has not been started yet.
type DispatchItem struct {
	DeliveryID     string    `db:"id"`
	WorkflowID     string    `db:"workflow_id"`
	AccountID      string    `db:"account_id"`
	SubscriptionID string    `db:"subscription_id"`
	EventType      string    `db:"event_type"`
	CreatedAt      time.Time `db:"created_at"`
	// TraceParent is the W3C traceparent of the request that created the delivery, when
	// it is traced.
	TraceParent string `db:"trace_parent"`
}

// DeliveryState is what a delivery's workflow reads when it starts: where the delivery
// stands and the subscription's retry settings at that moment.
type DeliveryState struct {
	Status     Status
	Attempts   int
	MaxRetries int
	Policy     PolicyKind
	// Fulfilment is true for deliveries of fulfilment_pending: their answer decides the
	// fulfilment (the fulfilment protocol).
	Fulfilment bool
	// RecoveryID is the recovery that last took the delivery, and RecoveryPending whether
	// its attempt is still to come.
	RecoveryID      string
	RecoveryPending bool
	// Ordered is true for a delivery of a fifo subscription: when it ends, the next one
	// with its ordering key is told.
	Ordered bool
}

// SendRequest is everything one attempt needs, read just before it is made so a fixed URL
// or a rotated secret applies to the next attempt.
type SendRequest struct {
	DeliveryID string
	// CreatedAt is the delivery's: waiting deliveries of one destination go oldest first.
	CreatedAt time.Time
	// DestinationID is the subscription's or the campaign webhook's id: what isolation,
	// rate limits and throttling are counted by.
	DestinationID string
	// SubscriptionID or CampaignWebhookID names where it goes (for logs).
	SubscriptionID    string
	CampaignWebhookID string
	// MessageID is the webhook-id header: the event id, the same on every attempt.
	MessageID string
	URL       string
	Headers   map[string]string
	Timeout   time.Duration
	Secrets   []string
	Payload   []byte
	// RateLimit is the subscription's requests per second (0: unlimited).
	RateLimit int
	// ThrottledUntil and ThrottleLevel are the destination's throttle: no request before
	// ThrottledUntil, and one at a time while ThrottleLevel is above 0.
	ThrottledUntil *time.Time
	ThrottleLevel  int
	// Waiting is true when the delivery is marked as waiting for its endpoint.
	Waiting bool
	// Paused is true while the subscription holds its deliveries.
	Paused bool
	// Predecessor names, for a delivery of a fifo subscription, the latest earlier
	// delivery with its ordering key that has not ended ("" when none, and for every
	// unordered delivery): this one waits for it. State.Ordered says whether it is ordered.
	Predecessor string
	// WaitingForTurn is true while the delivery is marked as waiting for its turn.
	WaitingForTurn bool
	// Skip, when set, says why no request may be made (the subscription was deleted or
	// disabled).
	Skip string
	// State is where the delivery stands, read with the rest so a run's first attempt
	// costs one query.
	State DeliveryState
}

// AttemptRecord is what the workflow asks the store to write after an attempt: the attempt
// row and the delivery's new state, in one transaction.
type AttemptRecord struct {
	DeliveryID string
	// Ordered is set for a fifo subscription's delivery: once it has ended (delivered
	// or failed), the next one of its ordering key is woken.
	Ordered       bool `json:",omitempty"`
	Attempt       Attempt
	Status        Status
	NextAttemptAt *time.Time
	// CompleteFulfilment marks the delivery's fulfilment completed (the endpoint answered
	// 200); FulfilmentIssues flags it (every attempt failed).
	CompleteFulfilment bool
	FulfilmentIssues   bool
	// PauseReason, when set, pauses the subscription (the endpoint answered 410 Gone).
	PauseReason string
	// RecoveryID is set on the attempt a recovery asked for.
	RecoveryID string
	// At is when the workflow recorded the attempt (its own clock): what the subscription's
	// run of failures is measured by.
	At time.Time
}

// AccountService manages accounts and their API keys.
type AccountService interface {
	CreateAccount(ctx context.Context, name string) (NewAccount, error)
	// AuthenticateKey returns the account an API key belongs to, or EUNAUTHORIZED.
	AuthenticateKey(ctx context.Context, key string) (Account, error)
}

// SubscriptionService manages an account's subscriptions. Every method is scoped to the
// account: another account's id is ENOTFOUND.
type SubscriptionService interface {
	CreateSubscription(ctx context.Context, accountID string, s *Subscription) error
	FindSubscription(ctx context.Context, accountID, id string) (Subscription, error)
	ListSubscriptions(ctx context.Context, accountID string) ([]Subscription, error)
	UpdateSubscription(ctx context.Context, accountID, id string, update SubscriptionUpdate, check func(*Subscription) error) (Subscription, error)
	DeleteSubscription(ctx context.Context, accountID, id string) error
	// RotateSecret replaces the signing secret, keeping the old one valid for grace; the
	// subscription signs in the scheme of newSecret from then on.
	RotateSecret(ctx context.Context, accountID, id string, newSecret string, grace time.Duration) (Subscription, error)
}

// EventService ingests events and reads them back.
type EventService interface {
	// IngestEvent writes the event and one pending delivery per matching subscription in
	// one transaction. With an idempotency key seen before, it returns the first answer.
	IngestEvent(ctx context.Context, accountID string, in EventInput, idempotencyKey string) (Ingested, error)
	// FindEvent returns one of the account's events with the summary of its deliveries.
	FindEvent(ctx context.Context, accountID, id string) (EventRecord, error)
	// ListEvents returns the account's events newest first, each with the summary of its
	// deliveries: those it posted and those hookflow made (tests, fulfilment_pending,
	// operational events).
	ListEvents(ctx context.Context, accountID string, filter EventFilter) (EventPage, error)
}

// DeliveryService reads deliveries and creates test deliveries.
type DeliveryService interface {
	FindDelivery(ctx context.Context, accountID, id string) (Delivery, error)
	ListDeliveries(ctx context.Context, accountID string, filter DeliveryFilter) (DeliveryPage, error)
	CreateTestDelivery(ctx context.Context, accountID, subscriptionID string) (Delivery, error)
}
