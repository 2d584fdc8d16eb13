package store_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// posted is an event posted by a test, with its deliveries' internal ids.
type posted struct {
	ID         string
	CreatedAt  time.Time
	Deliveries []string
}

func post(t *testing.T, db *store.DB, accountID string, in hookflow.EventInput) posted {
	t.Helper()
	if in.Data == nil {
		in.Data = json.RawMessage(`{}`)
	}
	out, err := db.IngestEvent(ctx, accountID, in, "")
	require.NoError(t, err)
	e, err := db.FindEvent(ctx, accountID, out.EventID)
	require.NoError(t, err)
	p := posted{ID: out.EventID, CreatedAt: e.CreatedAt}
	for _, d := range out.Deliveries {
		p.Deliveries = append(p.Deliveries, d.Key)
	}
	return p
}

// answer records one attempt of the delivery that got code (nil: a network error) and
// left it in status.
func answer(t *testing.T, db *store.DB, deliveryID string, status hookflow.Status, code *int) {
	t.Helper()
	a := hookflow.Attempt{Number: 1, StartedAt: db.Now(), ResponseCode: code, Trigger: hookflow.TriggerAutomatic}
	if code == nil {
		a.Error = "connection refused"
	}
	require.NoError(t, db.RecordAttempt(ctx, hookflow.AttemptRecord{DeliveryID: deliveryID, Status: status, Attempt: a}))
}

// keysOf lists the deliveries of events, newest event first, each event's in the order
// given (the listing's order when the events' deliveries are written at once).
func keysOf(deliveries ...[]string) []string {
	var out []string
	for i := len(deliveries) - 1; i >= 0; i-- {
		out = append(out, deliveries[i]...)
	}
	return out
}

// sortedLikeListing orders deliveries as the listing does when they share a created_at:
// by id, descending.
func sortedLikeListing(ids []string) []string {
	out := append([]string(nil), ids...)
	sort.Sort(sort.Reverse(sort.StringSlice(out)))
	return out
}

func TestListDeliveriesFindsByEntityResponseCodeAndTime(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	all := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	leads := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"lead.*"}})
	newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{})

	lead := func(entity string, number bool) hookflow.EventInput {
		return hookflow.EventInput{EventType: "lead.created", EntityType: "lead", EntityID: hookflow.EntityID{Value: entity, Number: number}}
	}
	e0 := post(t, db, acc.ID, lead("L-1", false))
	e1 := post(t, db, acc.ID, hookflow.EventInput{EventType: "promoter.created", EntityType: "promoter", EntityID: hookflow.EntityID{Value: "L-1"}})
	e2 := post(t, db, acc.ID, lead("L-2", false))
	e3 := post(t, db, acc.ID, lead("7", true))
	e4 := post(t, db, acc.ID, lead("7", false))
	e5 := post(t, db, acc.ID, lead("L-1", false))
	post(t, db, other.ID, lead("L-1", false))
	require.Len(t, e0.Deliveries, 2)
	require.Len(t, e1.Deliveries, 1)

	c200, c410, c500 := 200, 410, 500
	answer(t, db, e0.Deliveries[0], hookflow.StatusDelivered, &c200)
	answer(t, db, e0.Deliveries[1], hookflow.StatusRetrying, &c500)
	answer(t, db, e1.Deliveries[0], hookflow.StatusRetrying, &c500)
	answer(t, db, e2.Deliveries[0], hookflow.StatusFailed, &c410)
	answer(t, db, e3.Deliveries[0], hookflow.StatusRetrying, nil)
	answer(t, db, e5.Deliveries[1], hookflow.StatusRetrying, &c500)

	// The deliveries of one event share its created_at: the listing orders them by id.
	byEvent := func(events ...posted) []string {
		var groups [][]string
		for _, e := range events {
			groups = append(groups, sortedLikeListing(e.Deliveries))
		}
		return keysOf(groups...)
	}
	only := func(ids ...string) []string { return ids }

	tests := []struct {
		name   string
		filter hookflow.DeliveryFilter
		want   []string
	}{
		{"entity, whatever the event type", hookflow.DeliveryFilter{EntityID: "L-1"}, byEvent(e0, e1, e5)},
		{"entity posted as a number or a string", hookflow.DeliveryFilter{EntityID: "7"}, byEvent(e3, e4)},
		{"unknown entity", hookflow.DeliveryFilter{EntityID: "L-9"}, nil},
		{"response code", hookflow.DeliveryFilter{ResponseCode: 500},
			only(e5.Deliveries[1], e1.Deliveries[0], e0.Deliveries[1])},
		{"response code nobody answered", hookflow.DeliveryFilter{ResponseCode: 418}, nil},
		{"created at or after", hookflow.DeliveryFilter{Created: hookflow.CreatedWindow{After: &e4.CreatedAt}}, byEvent(e4, e5)},
		{"created before", hookflow.DeliveryFilter{Created: hookflow.CreatedWindow{Before: &e1.CreatedAt}}, byEvent(e0)},
		{"created in a window", hookflow.DeliveryFilter{Created: hookflow.CreatedWindow{After: &e1.CreatedAt, Before: &e3.CreatedAt}}, byEvent(e1, e2)},
		{"an empty window", hookflow.DeliveryFilter{Created: hookflow.CreatedWindow{After: &e2.CreatedAt, Before: &e2.CreatedAt}}, nil},
		{"entity and code", hookflow.DeliveryFilter{EntityID: "L-1", ResponseCode: 500},
			only(e5.Deliveries[1], e1.Deliveries[0], e0.Deliveries[1])},
		{"entity, code and subscription", hookflow.DeliveryFilter{EntityID: "L-1", ResponseCode: 500, SubscriptionID: leads.ID},
			only(e5.Deliveries[1], e0.Deliveries[1])},
		{"entity and window", hookflow.DeliveryFilter{EntityID: "L-1", Created: hookflow.CreatedWindow{After: &e1.CreatedAt, Before: &e5.CreatedAt}}, byEvent(e1)},
		{"entity and status", hookflow.DeliveryFilter{EntityID: "L-1", Status: hookflow.StatusDelivered}, only(e0.Deliveries[0])},
		{"entity and event", hookflow.DeliveryFilter{EntityID: "L-1", EventID: e2.ID}, nil},
		{"code and event type", hookflow.DeliveryFilter{ResponseCode: 500, EventType: "promoter.created"}, only(e1.Deliveries[0])},
		{"code, window and subscription", hookflow.DeliveryFilter{ResponseCode: 500, SubscriptionID: all.ID,
			Created: hookflow.CreatedWindow{Before: &e5.CreatedAt}}, only(e1.Deliveries[0])},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 2, 50} {
			t.Run(fmt.Sprintf("%s, pages of %d", tc.name, limit), func(t *testing.T) {
				f := tc.filter
				f.Limit = limit
				// With a page size of 1 every row is reached through the cursor: it keeps
				// the filters.
				assert.Equal(t, tc.want, listAll(t, db, acc.ID, f))
			})
		}
	}

	t.Run("another account's entity is not listed", func(t *testing.T) {
		p, err := db.ListDeliveries(ctx, other.ID, hookflow.DeliveryFilter{EntityID: "L-1"})
		require.NoError(t, err)
		require.Len(t, p.Data, 1)
		p, err = db.ListDeliveries(ctx, other.ID, hookflow.DeliveryFilter{ResponseCode: 500})
		require.NoError(t, err)
		assert.Empty(t, p.Data)
	})

	later := e0.CreatedAt.Add(time.Second)
	invalid := []struct {
		name   string
		filter hookflow.DeliveryFilter
		field  string
	}{
		{"response code under 100", hookflow.DeliveryFilter{ResponseCode: 99}, "response_code"},
		{"response code over 599", hookflow.DeliveryFilter{ResponseCode: 600}, "response_code"},
		{"negative response code", hookflow.DeliveryFilter{ResponseCode: -200}, "response_code"},
		{"entity id over 256 characters", hookflow.DeliveryFilter{EntityID: strings.Repeat("é", 257)}, "entity_id"},
		{"entity id with a control character", hookflow.DeliveryFilter{EntityID: "L-1\n"}, "entity_id"},
		{"entity id with NUL", hookflow.DeliveryFilter{EntityID: "L\x001"}, "entity_id"},
		{"entity id not UTF-8", hookflow.DeliveryFilter{EntityID: "L\xff"}, "entity_id"},
		{"window that ends before it begins", hookflow.DeliveryFilter{Created: hookflow.CreatedWindow{After: &later, Before: &e0.CreatedAt}}, "created_after"},
		// Refused even beside a filter that could only match nothing.
		{"bad code beside a subscription that is not a UUID", hookflow.DeliveryFilter{SubscriptionID: "nope", ResponseCode: 1000}, "response_code"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			_, err := db.ListDeliveries(ctx, acc.ID, tc.filter)
			requireCode(t, err, hookflow.EINVALID)
			assert.Equal(t, tc.field, hookflow.ErrorField(err))
		})
	}
	t.Run("an entity id of 256 characters is looked for", func(t *testing.T) {
		p, err := db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{EntityID: strings.Repeat("é", 256)})
		require.NoError(t, err)
		assert.Empty(t, p.Data)
	})
}

// listAllEvents follows the cursor to the end and returns every event in listing order.
func listAllEvents(t *testing.T, db *store.DB, accountID string, f hookflow.EventFilter) []hookflow.EventRecord {
	t.Helper()
	var events []hookflow.EventRecord
	for page := 0; ; page++ {
		require.Less(t, page, 100, "the listing must end")
		p, err := db.ListEvents(ctx, accountID, f)
		require.NoError(t, err)
		require.NotNil(t, p.Data, "an empty page is [], not null")
		require.LessOrEqual(t, len(p.Data), f.Limit)
		events = append(events, p.Data...)
		if p.NextCursor == nil {
			return events
		}
		require.Len(t, p.Data, f.Limit, "only a full page has a next cursor")
		f.Cursor = *p.NextCursor
	}
}

func eventIDs(events []hookflow.EventRecord) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func TestListEventsFiltersPagesAndSummarizesDeliveries(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	db.Now = stepClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	acc := newAccount(t, db, "acme")
	other := newAccount(t, db, "other")
	leads := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"lead.*"}})
	crm := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"lead.*", "promoter.*"}})
	newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{EventTypes: &[]string{"hookflow.*"}}) // takes the operational events
	newSubscription(t, db, other.ID, hookflow.SubscriptionUpdate{})

	c200, c500 := 200, 500
	e0 := post(t, db, acc.ID, hookflow.EventInput{EventType: "lead.created", EntityType: "lead", EntityID: hookflow.EntityID{Value: "42", Number: true}})
	answer(t, db, e0.Deliveries[0], hookflow.StatusDelivered, &c200)
	answer(t, db, e0.Deliveries[1], hookflow.StatusFailed, &c500)
	e1 := post(t, db, acc.ID, hookflow.EventInput{EventType: "promoter.created", EntityType: "promoter", EntityID: hookflow.EntityID{Value: "42"}})
	answer(t, db, e1.Deliveries[0], hookflow.StatusRetrying, nil)
	// Nobody takes it: an event with no delivery is listed all the same.
	e2 := post(t, db, acc.ID, hookflow.EventInput{EventType: "reward.created", EntityType: "reward", EntityID: hookflow.EntityID{Value: "r-1"}})
	require.Empty(t, e2.Deliveries)
	e3 := post(t, db, acc.ID, hookflow.EventInput{EventType: "lead.updated", EntityType: "lead", EntityID: hookflow.EntityID{Value: "43"}})
	// hookflow's own events belong to the account too: the ops subscription takes them.
	_, err := db.PauseSubscription(ctx, acc.ID, leads.ID, "maintenance")
	require.NoError(t, err)
	test, err := db.CreateTestDelivery(ctx, acc.ID, crm.ID)
	require.NoError(t, err)
	post(t, db, other.ID, hookflow.EventInput{EventType: "lead.created", EntityID: hookflow.EntityID{Value: "42"}})

	everything := listAllEvents(t, db, acc.ID, hookflow.EventFilter{Limit: 50})
	require.Len(t, everything, 7)
	// e0's failed delivery was told to the ops subscription, after e0 and before e1.
	failed, paused := everything[5], everything[1]
	assert.Equal(t, []string{test.EventID, paused.ID, e3.ID, e2.ID, e1.ID, failed.ID, e0.ID}, eventIDs(everything), "newest first")
	assert.Equal(t, hookflow.EventDeliveryFailed, failed.EventType)
	assert.Equal(t, hookflow.EventSubscriptionPaused, paused.EventType)
	assert.Equal(t, hookflow.DeliverySummary{Total: 1, Pending: 1}, paused.Deliveries, "to the ops subscription")
	assert.Equal(t, hookflow.TestEventType, everything[0].EventType)

	byID := map[string]hookflow.EventRecord{}
	for _, e := range everything {
		byID[e.ID] = e
	}
	assert.Equal(t, hookflow.DeliverySummary{Total: 2, Delivered: 1, Failed: 1}, byID[e0.ID].Deliveries)
	assert.Equal(t, hookflow.DeliverySummary{Total: 1, Retrying: 1}, byID[e1.ID].Deliveries)
	assert.Equal(t, hookflow.DeliverySummary{}, byID[e2.ID].Deliveries)
	assert.Equal(t, hookflow.DeliverySummary{Total: 2, Pending: 2}, byID[e3.ID].Deliveries)
	assert.Equal(t, hookflow.EntityID{Value: "42", Number: true}, byID[e0.ID].EntityID, "the entity id as it was posted")
	assert.Equal(t, "lead", byID[e0.ID].EntityType)
	assert.JSONEq(t, `{}`, string(byID[e0.ID].Data))

	t.Run("an event read alone carries the same summary", func(t *testing.T) {
		for _, listed := range everything {
			found, err := db.FindEvent(ctx, acc.ID, listed.ID)
			require.NoError(t, err)
			assert.Equal(t, listed, found)
		}
	})

	t.Run("the summary follows the deliveries", func(t *testing.T) {
		// A delivery of e3 moves on; e3's summary says so the next time it is read.
		answer(t, db, e3.Deliveries[0], hookflow.StatusDelivered, &c200)
		found, err := db.FindEvent(ctx, acc.ID, e3.ID)
		require.NoError(t, err)
		assert.Equal(t, hookflow.DeliverySummary{Total: 2, Pending: 1, Delivered: 1}, found.Deliveries)
	})

	for _, limit := range []int{1, 2, 5, 100} {
		t.Run(fmt.Sprintf("pages of %d list every event once", limit), func(t *testing.T) {
			assert.Equal(t, eventIDs(everything), eventIDs(listAllEvents(t, db, acc.ID, hookflow.EventFilter{Limit: limit})))
		})
	}

	tests := []struct {
		name   string
		filter hookflow.EventFilter
		want   []string
	}{
		{"event type", hookflow.EventFilter{EventType: "lead.created"}, []string{e0.ID}},
		{"operational event type", hookflow.EventFilter{EventType: hookflow.EventSubscriptionPaused}, []string{paused.ID}},
		{"created before, operational events included", hookflow.EventFilter{Created: hookflow.CreatedWindow{Before: &e2.CreatedAt}}, []string{e1.ID, failed.ID, e0.ID}},
		{"unknown event type", hookflow.EventFilter{EventType: "nothing.here"}, nil},
		{"entity, posted as a number or a string", hookflow.EventFilter{EntityID: "42"}, []string{e1.ID, e0.ID}},
		{"operational event's entity", hookflow.EventFilter{EntityID: leads.ID}, []string{paused.ID}},
		{"entity and type", hookflow.EventFilter{EntityID: "42", EventType: "promoter.created"}, []string{e1.ID}},
		{"created at or after", hookflow.EventFilter{Created: hookflow.CreatedWindow{After: &e3.CreatedAt}}, []string{test.EventID, paused.ID, e3.ID}},
		{"created in a window", hookflow.EventFilter{Created: hookflow.CreatedWindow{After: &e1.CreatedAt, Before: &e3.CreatedAt}}, []string{e2.ID, e1.ID}},
		{"an empty window", hookflow.EventFilter{Created: hookflow.CreatedWindow{After: &e1.CreatedAt, Before: &e1.CreatedAt}}, nil},
		{"entity in a window", hookflow.EventFilter{EntityID: "42", Created: hookflow.CreatedWindow{After: &e1.CreatedAt}}, []string{e1.ID}},
	}
	for _, tc := range tests {
		for _, limit := range []int{1, 50} {
			t.Run(fmt.Sprintf("filter %s, pages of %d", tc.name, limit), func(t *testing.T) {
				f := tc.filter
				f.Limit = limit
				assert.Equal(t, tc.want, eventIDs(listAllEvents(t, db, acc.ID, f)))
			})
		}
	}

	t.Run("another account's events are not listed", func(t *testing.T) {
		theirs := listAllEvents(t, db, other.ID, hookflow.EventFilter{Limit: 50})
		require.Len(t, theirs, 1)
		for _, e := range everything {
			assert.NotEqual(t, e.ID, theirs[0].ID)
		}
		_, err := db.FindEvent(ctx, other.ID, e0.ID)
		requireCode(t, err, hookflow.ENOTFOUND)
	})

	later := e0.CreatedAt.Add(time.Second)
	invalid := []struct {
		name   string
		filter hookflow.EventFilter
		field  string
	}{
		{"limit over 100", hookflow.EventFilter{Limit: 101}, "limit"},
		{"event type pattern", hookflow.EventFilter{EventType: "lead.*"}, "event_type"},
		{"event type not UTF-8", hookflow.EventFilter{EventType: "lead\xff"}, "event_type"},
		{"entity id over 256 characters", hookflow.EventFilter{EntityID: strings.Repeat("x", 257)}, "entity_id"},
		{"entity id with a control character", hookflow.EventFilter{EntityID: "4\t2"}, "entity_id"},
		{"window that ends before it begins", hookflow.EventFilter{Created: hookflow.CreatedWindow{After: &later, Before: &e0.CreatedAt}}, "created_after"},
		{"cursor not base64", hookflow.EventFilter{Cursor: "!!!"}, "cursor"},
		{"cursor with a bad id", hookflow.EventFilter{Cursor: base64.RawURLEncoding.EncodeToString([]byte("123|x"))}, "cursor"},
	}
	for _, tc := range invalid {
		t.Run("invalid "+tc.name, func(t *testing.T) {
			_, err := db.ListEvents(ctx, acc.ID, tc.filter)
			requireCode(t, err, hookflow.EINVALID)
			assert.Equal(t, tc.field, hookflow.ErrorField(err))
		})
	}
}
