package hookflow

import (
	"bytes"
	"encoding/json"
	"slices"
	"time"
	"unicode/utf8"
)

// Event limits.
const (
	MaxEventBodyBytes      = 256 << 10
	MaxEntityFieldLength   = 256
	MaxIdempotencyKeyChars = 255
)

// EventInput is the body of POST /v1/events.
type EventInput struct {
	EventType  string      `json:"event_type"`
	Action     string      `json:"action"`
	EntityType string      `json:"entity_type"`
	EntityID   EntityID    `json:"entity_id"`
	CampaignID CampaignRef `json:"campaign_id"`
	// OrderingKey orders the event's deliveries to fifo subscriptions (see Ordering); by
	// default they are ordered by the entity.
	OrderingKey string          `json:"ordering_key,omitempty"`
	Data        json.RawMessage `json:"data"`
	Changes     json.RawMessage `json:"changes"`
}

// Actions an event may carry.
var Actions = []string{"created", "updated", "deleted"}

// Validate checks the input and normalises absent data and changes.
func (in *EventInput) Validate() error {
	if in.EventType == "" {
		return Invalid("event_type", "is required")
	}
	if !ValidEventType(in.EventType) {
		return Invalid("event_type", "must be dot-separated letters, digits, '_' or '-', at most %d characters", MaxEventTypeLength)
	}
	if in.EventType == FulfilmentPending {
		return Invalid("event_type", "fulfilment_pending is fired by POST /v1/fulfilments")
	}
	if IsOperational(in.EventType) {
		return Invalid("event_type", "types starting with %q are reserved for hookflow's own events", OperationalPrefix)
	}
	if in.Action != "" && !slices.Contains(Actions, in.Action) {
		return Invalid("action", `must be "created", "updated" or "deleted"`)
	}
	// In the body's order, so a request with several bad fields is always told the same one.
	for _, f := range []struct{ name, value string }{{"entity_type", in.EntityType}, {"entity_id", in.EntityID.Value}, {"campaign_id", string(in.CampaignID)}} {
		if utf8.RuneCountInString(f.value) > MaxEntityFieldLength || hasControl(f.value) {
			return Invalid(f.name, "must be at most %d characters without control characters", MaxEntityFieldLength)
		}
	}
	if err := validateOrderingKey(in.OrderingKey); err != nil {
		return err
	}
	if !storableJSON(in.Data) {
		return Invalid("data", "must be UTF-8 JSON without \\u0000")
	}
	if !storableJSON(in.Changes) {
		return Invalid("changes", "must be UTF-8 JSON without \\u0000")
	}
	if isNull(in.Data) {
		in.Data = json.RawMessage(`{}`)
	} else if !isObject(in.Data) {
		return Invalid("data", "must be an object")
	}
	if isNull(in.Changes) {
		in.Changes = nil
	} else {
		var changes map[string][]json.RawMessage
		if !isObject(in.Changes) || json.Unmarshal(in.Changes, &changes) != nil {
			return Invalid("changes", "must be an object of field → [old, new]")
		}
		for field, pair := range changes {
			if len(pair) != 2 {
				return Invalid("changes", "%q must be a two-element array [old, new]", Truncate(field, 64))
			}
		}
	}
	return nil
}

// Payload is the body a subscription endpoint receives.
type Payload struct {
	EventID    string          `json:"event_id"`
	EventType  string          `json:"event_type"`
	Action     string          `json:"action"`
	EntityType string          `json:"entity_type"`
	EntityID   EntityID        `json:"entity_id"`
	Changes    json.RawMessage `json:"changes"`
	Data       json.RawMessage `json:"data"`
	Timestamp  string          `json:"timestamp"`
}

// RenderPayload returns the exact bytes sent for an event. It is rendered once at ingest
// and stored, so every attempt sends the same body and the record shows what was sent.
func RenderPayload(e Event) ([]byte, error) {
	changes := e.Changes
	if isNull(changes) {
		changes = json.RawMessage(`{}`)
	}
	data := e.Data
	if isNull(data) {
		data = json.RawMessage(`{}`)
	}
	return json.Marshal(Payload{
		EventID:    e.ID,
		EventType:  e.EventType,
		Action:     e.Action,
		EntityType: e.EntityType,
		EntityID:   e.EntityID,
		Changes:    changes,
		Data:       data,
		Timestamp:  e.CreatedAt.UTC().Format(time.RFC3339Nano),
	})
}

// TestEventType is the event type of deliveries sent with "Send test".
const TestEventType = "webhook.test"

// storableJSON reports whether PostgreSQL's jsonb can hold raw: valid UTF-8, and no
// \u0000 escape (an escape is one preceded by an even number of backslashes).
func storableJSON(raw json.RawMessage) bool {
	if !utf8.Valid(raw) {
		return false
	}
	for i := bytes.Index(raw, []byte(`\u0000`)); i >= 0; {
		backslashes := 0
		for j := i - 1; j >= 0 && raw[j] == '\\'; j-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return false
		}
		next := bytes.Index(raw[i+1:], []byte(`\u0000`))
		if next < 0 {
			break
		}
		i += 1 + next
	}
	return true
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || bytes.Equal(t, []byte("null"))
}

func isObject(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && t[0] == '{'
}
