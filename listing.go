package hookflow

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// CreatedWindow bounds a listing by creation time: at or after After, and before Before,
// so that consecutive windows neither overlap nor leave a gap. Either may be left out.
type CreatedWindow struct {
	After  *time.Time
	Before *time.Time
}

// Check refuses a window that ends before it begins; an empty one (both the same time)
// is merely a listing with nothing in it.
func (w CreatedWindow) Check() error {
	if w.After != nil && w.Before != nil && w.After.After(*w.Before) {
		return Invalid("created_after", "must not be later than created_before")
	}
	return nil
}

// Response codes a listing can be filtered by: what HTTP answers can carry.
const (
	MinResponseCode = 100
	MaxResponseCode = 599
)

// CheckResponseCode refuses a response_code filter no answer can have (0 is no filter).
func CheckResponseCode(code int) error {
	if code != 0 && (code < MinResponseCode || code > MaxResponseCode) {
		return responseCodeError()
	}
	return nil
}

// ParseResponseCode reads a response_code filter as a query string carries it: empty is
// 0, no filter.
func ParseResponseCode(raw string) (int, error) {
	if raw == "" {
		return 0, nil
	}
	code, err := strconv.Atoi(raw)
	if err != nil || code == 0 {
		return 0, responseCodeError()
	}
	return code, CheckResponseCode(code)
}

func responseCodeError() error {
	return Invalid("response_code", "must be an integer between %d and %d", MinResponseCode, MaxResponseCode)
}

// CheckEntityIDFilter refuses an entity_id filter no event can have: one longer, or with
// other characters, than an event's entity_id may be.
func CheckEntityIDFilter(id string) error {
	if utf8.RuneCountInString(id) > MaxEntityFieldLength || hasControl(id) {
		return Invalid("entity_id", "must be at most %d characters without control characters", MaxEntityFieldLength)
	}
	return nil
}

// EventFilter selects events in a listing.
type EventFilter struct {
	EventType string
	// EntityID selects the events about one entity, whether its id was posted as a string
	// or as an integer.
	EntityID string
	Created  CreatedWindow
	Limit    int
	// Cursor is opaque to clients: it continues a listing after the last row returned.
	Cursor string
}

// DeliverySummary counts an event's deliveries by where each stands now; the four
// statuses add up to the total.
type DeliverySummary struct {
	Total     int `json:"total"`
	Pending   int `json:"pending"`
	Retrying  int `json:"retrying"`
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
}

// EventRecord is an event as it is read back: what was posted, and how its deliveries
// stand.
type EventRecord struct {
	Event
	Deliveries DeliverySummary `json:"deliveries"`
}

// EventPage is one page of the event listing, newest first.
type EventPage struct {
	Data       []EventRecord `json:"data"`
	NextCursor *string       `json:"next_cursor"`
}
