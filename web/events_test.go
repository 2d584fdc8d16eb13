package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

// minuteClock returns a clock that moves one minute per reading from start, so the
// events written one after another are a minute apart, as the filter forms count.
func minuteClock(start time.Time) func() time.Time {
	now := start.Add(-time.Minute)
	return func() time.Time {
		now = now.Add(time.Minute)
		return now
	}
}

func (e *dashboardEnv) post(accountID string, in hookflow.EventInput) hookflow.Ingested {
	e.t.Helper()
	if in.Data == nil {
		in.Data = json.RawMessage(`{"email":"pat@example.com"}`)
	}
	out, err := e.db.IngestEvent(context.Background(), accountID, in, "")
	require.NoError(e.t, err)
	return out
}

func (e *dashboardEnv) createdAt(accountID, eventID string) time.Time {
	e.t.Helper()
	ev, err := e.db.FindEvent(context.Background(), accountID, eventID)
	require.NoError(e.t, err)
	return ev.CreatedAt
}

func (e *dashboardEnv) answer(deliveryKey string, status hookflow.Status, code int) {
	e.t.Helper()
	require.NoError(e.t, e.db.RecordAttempt(context.Background(), hookflow.AttemptRecord{DeliveryID: deliveryKey, Status: status,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &code, Trigger: hookflow.TriggerAutomatic}}))
}

// rows counts the rows of the page's listing table.
func rows(body string) int {
	_, table, ok := strings.Cut(body, "<tbody>")
	if !ok {
		return 0
	}
	table, _, _ = strings.Cut(table, "</tbody>")
	return strings.Count(table, "<tr>")
}

var olderLink = regexp.MustCompile(`href="([^"]+)" class="older">Older →`)

func TestEventsPageListsOutcomesAndFilters(t *testing.T) {
	e := newDashboard(t, nil)
	e.db.Now = minuteClock(time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC))
	acc := e.account("acme")
	other := e.account("other")
	leads := e.subscription(acc.ID, "https://crm.example/leads")
	e.subscription(acc.ID, "https://warehouse.example/all")
	e.subscription(other.ID, "https://other.example/hooks")
	_, err := e.db.UpdateSubscription(context.Background(), acc.ID, leads.ID,
		hookflow.SubscriptionUpdate{EventTypes: &[]string{"lead.*", "hookflow.*"}}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)

	created := e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", EntityType: "lead", EntityID: hookflow.EntityID{Value: "L-1042"}})
	e.answer(created.Deliveries[0].Key, hookflow.StatusDelivered, 200)
	e.answer(created.Deliveries[1].Key, hookflow.StatusFailed, 500)
	promoter := e.post(acc.ID, hookflow.EventInput{EventType: "promoter.created", EntityType: "promoter", EntityID: hookflow.EntityID{Value: "77", Number: true}})
	updated := e.post(acc.ID, hookflow.EventInput{EventType: "lead.updated", EntityType: "lead", EntityID: hookflow.EntityID{Value: "L-1042"}})
	e.post(other.ID, hookflow.EventInput{EventType: "secret.thing", EntityID: hookflow.EntityID{Value: "L-1042"}})

	b := e.browser()
	b.signIn(acc.APIKey)
	p := b.get("/events")
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, `<a href="/events" aria-current="page">Events</a>`)
	assert.NotContains(t, p.body, `http-equiv="refresh"`, "a search page does not reload under the person typing")
	assert.NotContains(t, p.body, "secret.thing", "another account's events are not listed")
	// Four events: the three posted and the one hookflow made when a delivery failed.
	assert.Equal(t, 4, rows(p.body), p.body)
	assert.Contains(t, p.body, `<code>hookflow.delivery.failed</code></a> <span class="badge badge-test" title="hookflow's own event">hookflow</span>`)
	assert.Contains(t, p.body, `<span class="badge badge-failed">1 failed</span> <span class="badge badge-delivered">1 delivered</span>`)
	assert.Contains(t, p.body, `<span class="badge badge-pending">2 pending</span>`)
	assert.Contains(t, p.body, `promoter <code>77</code>`)
	assert.Contains(t, p.body, `href="/events/`+created.EventID+`"`)

	byEntity := b.get("/events?entity_id=L-1042")
	assert.Equal(t, 2, rows(byEntity.body))
	assert.NotContains(t, byEntity.body, "promoter.created")
	assert.Contains(t, byEntity.body, `value="L-1042"`, "the filter is shown as typed")
	assert.Contains(t, byEntity.body, `<a href="/events" class="small">Clear</a>`)

	byType := b.get("/events?event_type=promoter.created")
	assert.Equal(t, 1, rows(byType.body))

	// The clock moves a minute per reading: the window of the promoter's minute holds it
	// alone.
	from, until := formTime(e.createdAt(acc.ID, promoter.EventID)), formTime(e.createdAt(acc.ID, updated.EventID))
	window := b.get("/events?created_after=" + from + "&created_before=" + until)
	require.Equal(t, http.StatusOK, window.status, window.body)
	assert.Equal(t, 1, rows(window.body), window.body)
	assert.Contains(t, window.body, "promoter.created")
	assert.Contains(t, window.body, `value="`+from+`"`)

	none := b.get("/events?entity_id=nobody")
	assert.Equal(t, http.StatusOK, none.status)
	assert.Contains(t, none.body, "No events match this filter.")

	for _, tc := range []struct{ query, field, message string }{
		{"created_after=soon", "created-after-filter", "created_after: must be a date and time in UTC"},
		{"created_before=2030-02-30T00:00", "created-before-filter", "created_before: must be a date and time in UTC"},
		{"created_after=2030-03-02T00:00&created_before=2030-03-01T00:00", "created-after-filter", "created_after: must not be later than created_before"},
		{"entity_id=" + url.QueryEscape("L\n1"), "entity-id-filter", "entity_id: must be at most 256 characters"},
		{"event_type=lead.*", "event-type-filter", "event_type: is not an event type"},
	} {
		bad := b.get("/events?" + tc.query)
		assert.Equal(t, http.StatusUnprocessableEntity, bad.status, tc.query)
		assert.Contains(t, bad.body, tc.message, tc.query)
		assert.Regexp(t, `id="`+tc.field+`"[^>]*aria-invalid="true"`, bad.body, tc.query)
		assert.Equal(t, 0, rows(bad.body), tc.query)
	}
}

func TestEventsPagePagesWithItsFilters(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	e.subscription(acc.ID, "https://crm.example/leads")
	for range eventsPerPage + 2 {
		e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", EntityID: hookflow.EntityID{Value: "L-1"}})
	}
	e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", EntityID: hookflow.EntityID{Value: "L-2"}})
	b := e.browser()
	b.signIn(acc.APIKey)

	first := b.get("/events?entity_id=L-1")
	require.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, eventsPerPage, rows(first.body))
	older := olderLink.FindStringSubmatch(first.body)
	require.NotNil(t, older, "a full page links to older events")
	next := strings.ReplaceAll(older[1], "&amp;", "&")
	assert.Contains(t, next, "entity_id=L-1")
	second := b.get(next)
	assert.Equal(t, 2, rows(second.body))
	assert.NotContains(t, second.body, "Older →")
	assert.Contains(t, second.body, `<a href="/events?entity_id=L-1">← Newest</a>`)
}

func TestEventPageShowsTheEventAndItsDeliveries(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	other := e.account("other")
	crm := e.subscription(acc.ID, "https://crm.example/leads")
	gone := e.subscription(acc.ID, "https://gone.example/hooks")
	out := e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", Action: "created", EntityType: "lead",
		EntityID: hookflow.EntityID{Value: "L 1&2"}, Changes: json.RawMessage(`{"stage":["new","qualified"]}`)})
	require.Len(t, out.Deliveries, 2)
	require.NoError(t, e.db.DeleteSubscription(context.Background(), acc.ID, gone.ID))
	e.answer(out.Deliveries[0].Key, hookflow.StatusRetrying, 503)
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.get("/events/" + out.EventID)
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Contains(t, p.body, `<a href="/events" aria-current="page">Events</a>`)
	assert.Contains(t, p.body, `<span class="badge badge-retrying">1 retrying</span> <span class="badge badge-pending">1 pending</span>`)
	assert.Contains(t, p.body, `<code id="event-entity-id">L 1&amp;2</code>`)
	assert.Contains(t, p.body, `href="/events?entity_id=L%201%262"`, "the entity's other events, its id escaped")
	assert.Contains(t, p.body, "&#34;email&#34;: &#34;pat@example.com&#34;", "the data is indented")
	assert.Contains(t, p.body, "&#34;stage&#34;")
	assert.Equal(t, 2, rows(p.body))
	for i, d := range out.Deliveries {
		assert.Contains(t, p.body, fmt.Sprintf(`<a href="/deliveries/%d" class="badge badge-%s">`, d.ID, []string{"retrying", "pending"}[i]))
	}
	assert.Contains(t, p.body, crm.URL)
	assert.Contains(t, p.body, "a deleted subscription")
	assert.NotContains(t, p.body, gone.URL)
	assert.Contains(t, p.body, `<span class="code code-5xx">503</span>`)
	assert.Contains(t, p.body, `<meta http-equiv="refresh" content="2">`, "it follows its deliveries while they are in flight")

	_, err := e.db.SQL().Exec(`UPDATE deliveries SET status = 'delivered' WHERE event_id = $1`, out.EventID)
	require.NoError(t, err)
	done := b.get("/events/" + out.EventID)
	assert.Contains(t, done.body, `<span class="badge badge-delivered">2 delivered</span>`)
	assert.NotContains(t, done.body, `http-equiv="refresh"`)

	_, err = e.db.SQL().Exec(`UPDATE subscriptions SET event_types = '{lead.*}' WHERE account_id = $1`, acc.ID)
	require.NoError(t, err)
	nobody := e.post(acc.ID, hookflow.EventInput{EventType: "reward.created"})
	require.Empty(t, nobody.Deliveries)
	quiet := b.get("/events/" + nobody.EventID)
	require.Equal(t, http.StatusOK, quiet.status)
	assert.Contains(t, quiet.body, "No deliveries: no subscription took it.")
	assert.Contains(t, quiet.body, "No deliveries: when it was posted, no subscription took its type.")

	theirs := e.browser()
	theirs.signIn(other.APIKey)
	for _, path := range []string{"/events/" + out.EventID, "/events/not-a-uuid", "/events/00000000-0000-0000-0000-000000000000"} {
		nf := theirs.get(path)
		assert.Equal(t, http.StatusNotFound, nf.status, path)
		assert.Contains(t, nf.body, "belongs to another account", path)
		assert.NotContains(t, nf.body, "crm.example", path)
	}
	list := theirs.get("/events")
	assert.Contains(t, list.body, "No events yet.")
}

func TestSubscriptionDeliveriesFilterByEntityCodeAndTime(t *testing.T) {
	e := newDashboard(t, nil)
	e.db.Now = minuteClock(time.Date(2030, 3, 1, 9, 0, 0, 0, time.UTC))
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://crm.example/leads")
	first := e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", EntityType: "lead", EntityID: hookflow.EntityID{Value: "L-1"}})
	e.answer(first.Deliveries[0].Key, hookflow.StatusFailed, 410)
	second := e.post(acc.ID, hookflow.EventInput{EventType: "lead.created", EntityType: "lead", EntityID: hookflow.EntityID{Value: "L-2"}})
	for range deliveriesPerPage + 1 {
		e.post(acc.ID, hookflow.EventInput{EventType: "lead.updated", EntityType: "lead", EntityID: hookflow.EntityID{Value: "L-3"}})
	}
	b := e.browser()
	b.signIn(acc.APIKey)
	path := "/subscriptions/" + sub.ID

	p := b.get(path + "?entity_id=L-1")
	require.Equal(t, http.StatusOK, p.status, p.body)
	assert.Equal(t, 1, rows(p.body))
	assert.Contains(t, p.body, `id="entity-id-filter" name="entity_id" value="L-1"`)
	assert.Contains(t, p.body, `<a href="`+path+`" class="small">Clear</a>`)

	gone := b.get(path + "?response_code=410")
	assert.Equal(t, 1, rows(gone.body))
	assert.Contains(t, gone.body, `<span class="code code-4xx">410</span>`)

	secondAt := e.createdAt(acc.ID, second.EventID)
	window := b.get(path + "?created_after=" + formTime(secondAt) + "&created_before=" + formTime(secondAt.Add(time.Minute)))
	assert.Equal(t, 1, rows(window.body))
	assert.Contains(t, window.body, "L-2")

	paged := b.get(path + "?entity_id=L-3&created_after=" + formTime(secondAt))
	assert.Equal(t, deliveriesPerPage, rows(paged.body))
	older := olderLink.FindStringSubmatch(paged.body)
	require.NotNil(t, older)
	next := strings.ReplaceAll(older[1], "&amp;", "&")
	assert.Contains(t, next, "entity_id=L-3")
	assert.Contains(t, next, "created_after="+url.QueryEscape(formTime(secondAt)))
	assert.Equal(t, 1, rows(b.get(next).body))

	for _, tc := range []struct{ query, field, message string }{
		{"response_code=abc", "response-code-filter", "response_code: must be an integer between 100 and 599"},
		{"response_code=99", "response-code-filter", "response_code: must be an integer between 100 and 599"},
		{"created_after=tomorrow", "created-after-filter", "created_after: must be a date and time in UTC"},
		{"created_after=2030-03-02T00:00&created_before=2030-03-01T00:00", "created-after-filter", "created_after: must not be later than created_before"},
		{"entity_id=" + strings.Repeat("x", 257), "entity-id-filter", "entity_id: must be at most 256 characters"},
	} {
		bad := b.get(path + "?" + tc.query)
		assert.Equal(t, http.StatusBadRequest, bad.status, tc.query)
		assert.Contains(t, bad.body, tc.message, tc.query)
		assert.Regexp(t, `id="`+tc.field+`"[^>]*aria-invalid="true"`, bad.body, tc.query)
		assert.Contains(t, bad.body, "No deliveries match this filter.", tc.query)
	}
}
