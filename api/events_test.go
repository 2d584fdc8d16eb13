package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api/openapitest"
)

// eventPage is the answer of GET /v1/events as a client reads it.
type eventPage struct {
	Data []struct {
		ID         string                   `json:"id"`
		EventType  string                   `json:"event_type"`
		EntityID   json.RawMessage          `json:"entity_id"`
		CreatedAt  time.Time                `json:"created_at"`
		Deliveries hookflow.DeliverySummary `json:"deliveries"`
	} `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

func (e *apiEnv) events(key, query string) eventPage {
	e.t.Helper()
	rec := e.do(http.MethodGet, "/v1/events?"+query, key, "")
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	var p eventPage
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p
}

func (e *apiEnv) deliveries(key, query string) hookflow.DeliveryPage {
	e.t.Helper()
	rec := e.do(http.MethodGet, "/v1/deliveries?"+query, key, "")
	require.Equal(e.t, http.StatusOK, rec.Code, rec.Body.String())
	var p hookflow.DeliveryPage
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &p), rec.Body.String())
	return p
}

func TestEventListing(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	_, otherKey := e.account("other")
	e.subscription(key, `{"url":"`+hookURL+`","event_types":["lead.*"]}`)
	e.subscription(key, `{"url":"`+hookURL+`","event_types":["lead.*","promoter.*"]}`)
	e.subscription(otherKey, `{"url":"`+hookURL+`"}`)

	first := e.event(key, `{"event_type":"lead.created","entity_type":"lead","entity_id":42}`)
	second := e.event(key, `{"event_type":"promoter.created","entity_type":"promoter","entity_id":"42"}`)
	third := e.event(key, `{"event_type":"lead.updated","entity_type":"lead","entity_id":"L-7"}`)
	e.event(otherKey, `{"event_type":"lead.created","entity_id":42}`)
	c500 := 500
	require.NoError(t, e.db.RecordAttempt(t.Context(), hookflow.AttemptRecord{DeliveryID: e.deliveryKey(first.Deliveries[1].ID), Status: hookflow.StatusFailed,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &c500, Trigger: hookflow.TriggerAutomatic}}))

	rec := e.do(http.MethodGet, "/v1/events", key, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	var raw struct {
		Data       []map[string]any `json:"data"`
		NextCursor *string          `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &raw))
	require.Len(t, raw.Data, 3, "only the account's own events")
	assert.Nil(t, raw.NextCursor)
	newest := raw.Data[0]
	assert.Equal(t, third.EventID, newest["id"], "newest first")
	for _, field := range []string{"id", "event_type", "entity_type", "entity_id", "data", "created_at", "deliveries"} {
		assert.Contains(t, newest, field)
	}
	assert.Equal(t, map[string]any{"total": float64(2), "pending": float64(2), "retrying": float64(0),
		"delivered": float64(0), "failed": float64(0)}, newest["deliveries"])

	all := e.events(key, "")
	assert.Equal(t, hookflow.DeliverySummary{Total: 2, Pending: 1, Failed: 1}, all.Data[2].Deliveries)
	assert.JSONEq(t, `42`, string(all.Data[2].EntityID), "the entity id as it was posted")

	t.Run("GET /v1/events/{id} carries the same summary", func(t *testing.T) {
		rec := e.do(http.MethodGet, "/v1/events/"+first.EventID, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		summary, err := json.Marshal(decodeObject(t, rec)["deliveries"])
		require.NoError(t, err)
		assert.JSONEq(t, `{"total":2,"pending":1,"retrying":0,"delivered":0,"failed":1}`, string(summary))
	})

	t.Run("answers match the OpenAPI document", func(t *testing.T) {
		checker, err := openapitest.New()
		require.NoError(t, err)
		since := url.QueryEscape(all.Data[2].CreatedAt.Format(time.RFC3339Nano))
		for _, path := range []string{
			"/v1/events",
			"/v1/events?entity_id=42&event_type=lead.created&created_after=" + since + "&limit=1",
			"/v1/events/" + first.EventID,
			"/v1/deliveries?entity_id=42&response_code=500&created_after=" + since + "&created_before=2999-01-01T00:00:00Z",
			"/v1/events?created_after=2026-11-24T00:00:00Z&created_before=2026-11-23T00:00:00Z",
			"/v1/deliveries?response_code=600",
		} {
			rec := e.do(http.MethodGet, path, key, "")
			header := http.Header{"Authorization": {"Bearer " + key}}
			assert.NoError(t, checker.Check(http.MethodGet, "http://hookflow.test"+path, header, nil, rec.Code, rec.Header(), rec.Body.Bytes()))
		}
	})

	t.Run("another account's events are neither listed nor found", func(t *testing.T) {
		theirs := e.events(otherKey, "entity_id=42")
		require.Len(t, theirs.Data, 1)
		assert.NotEqual(t, first.EventID, theirs.Data[0].ID)
		requireError(t, e.do(http.MethodGet, "/v1/events/"+first.EventID, otherKey, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	})

	t.Run("filters and pages", func(t *testing.T) {
		ids := func(p eventPage) []string {
			var out []string
			for _, d := range p.Data {
				out = append(out, d.ID)
			}
			return out
		}
		assert.Equal(t, []string{second.EventID, first.EventID}, ids(e.events(key, "entity_id=42")))
		assert.Equal(t, []string{third.EventID}, ids(e.events(key, "event_type=lead.updated")))
		assert.Empty(t, ids(e.events(key, "entity_id=42&event_type=lead.updated")))
		from := url.QueryEscape(all.Data[1].CreatedAt.Format(time.RFC3339Nano))
		assert.Equal(t, []string{third.EventID, second.EventID}, ids(e.events(key, "created_after="+from)))
		assert.Equal(t, []string{first.EventID}, ids(e.events(key, "created_before="+from)))

		var paged []string
		cursor := ""
		for page := 0; ; page++ {
			require.Less(t, page, 5, "the listing must end")
			p := e.events(key, "entity_id=42&limit=1&cursor="+cursor)
			paged = append(paged, ids(p)...)
			if p.NextCursor == nil {
				break
			}
			cursor = *p.NextCursor
		}
		assert.Equal(t, []string{second.EventID, first.EventID}, paged, "the cursor keeps the filters")
	})
}

func TestDeliveryListingFindsByEntityResponseCodeAndTime(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	e.subscription(key, `{"url":"`+hookURL+`","event_types":["lead.*"]}`)
	first := e.event(key, `{"event_type":"lead.created","entity_type":"lead","entity_id":"L-1"}`)
	second := e.event(key, `{"event_type":"lead.created","entity_type":"lead","entity_id":"L-2"}`)
	third := e.event(key, `{"event_type":"lead.updated","entity_type":"lead","entity_id":"L-1"}`)
	c410 := 410
	require.NoError(t, e.db.RecordAttempt(t.Context(), hookflow.AttemptRecord{DeliveryID: e.deliveryKey(third.Deliveries[0].ID), Status: hookflow.StatusFailed,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: time.Now(), ResponseCode: &c410, Trigger: hookflow.TriggerAutomatic}}))
	numbers := func(p hookflow.DeliveryPage) []int64 {
		var out []int64
		for _, d := range p.Data {
			out = append(out, d.ID)
		}
		return out
	}
	one, two, three := first.Deliveries[0].ID, second.Deliveries[0].ID, third.Deliveries[0].ID

	assert.Equal(t, []int64{three, one}, numbers(e.deliveries(key, "entity_id=L-1")))
	assert.Equal(t, []int64{three}, numbers(e.deliveries(key, "response_code=410")))
	assert.Empty(t, numbers(e.deliveries(key, "response_code=200")))
	assert.Equal(t, []int64{three}, numbers(e.deliveries(key, "entity_id=L-1&response_code=410&event_type=lead.updated")))

	listed := e.deliveries(key, "")
	require.Len(t, listed.Data, 3)
	at := func(d hookflow.Delivery) string { return url.QueryEscape(d.CreatedAt.Format(time.RFC3339Nano)) }
	assert.Equal(t, []int64{three, two}, numbers(e.deliveries(key, "created_after="+at(listed.Data[1]))))
	assert.Equal(t, []int64{two}, numbers(e.deliveries(key, "created_after="+at(listed.Data[1])+"&created_before="+at(listed.Data[0]))))
	// A zone other than Z, escaped as a URL needs it.
	paris := url.QueryEscape(listed.Data[1].CreatedAt.In(time.FixedZone("CET", 3600)).Format(time.RFC3339Nano))
	assert.Equal(t, []int64{one}, numbers(e.deliveries(key, "created_before="+paris)))

	var paged []int64
	cursor := ""
	for page := 0; ; page++ {
		require.Less(t, page, 5, "the listing must end")
		p := e.deliveries(key, "entity_id=L-1&limit=1&created_before="+at(listed.Data[0])+"&cursor="+cursor)
		paged = append(paged, numbers(p)...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	assert.Equal(t, []int64{one}, paged)
	paged, cursor = nil, ""
	for page := 0; ; page++ {
		require.Less(t, page, 5, "the listing must end")
		p := e.deliveries(key, "entity_id=L-1&limit=1&cursor="+cursor)
		paged = append(paged, numbers(p)...)
		if p.NextCursor == nil {
			break
		}
		cursor = *p.NextCursor
	}
	assert.Equal(t, []int64{three, one}, paged, "the cursor keeps the filters")
}

// Every filter's bad value is a 422 naming it, on both listings that take it; none reaches
// PostgreSQL as a 500.
func TestListingsRefuseBadFilters(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	e.subscription(key, `{"url":"`+hookURL+`"}`)
	e.event(key, `{"event_type":"lead.created","entity_id":"L-1"}`)
	tests := []struct {
		name, query, field string
		// deliveriesOnly filters are not the event listing's.
		deliveriesOnly bool
	}{
		{name: "created_after not a time", query: "created_after=yesterday", field: "created_after"},
		{name: "created_after a date only", query: "created_after=2026-11-23", field: "created_after"},
		{name: "created_after without a zone", query: "created_after=2026-11-23T17:00:00", field: "created_after"},
		{name: "created_after with an unescaped +", query: "created_after=2026-11-23T17:00:00+01:00", field: "created_after"},
		{name: "created_after out of range", query: "created_after=2026-13-01T00:00:00Z", field: "created_after"},
		{name: "created_before not a time", query: "created_before=now", field: "created_before"},
		{name: "created_before a Unix time", query: "created_before=1700000000", field: "created_before"},
		{name: "created_after later than created_before", query: "created_after=2026-11-24T00:00:00Z&created_before=2026-11-23T00:00:00Z", field: "created_after"},
		{name: "entity_id over 256 characters", query: "entity_id=" + strings.Repeat("x", 257), field: "entity_id"},
		{name: "entity_id with a line feed", query: "entity_id=L%0A1", field: "entity_id"},
		{name: "entity_id with NUL", query: "entity_id=L%001", field: "entity_id"},
		{name: "entity_id not UTF-8", query: "entity_id=L%FF", field: "entity_id"},
		{name: "event_type not an event type", query: "event_type=lead.*", field: "event_type"},
		{name: "event_type not UTF-8", query: "event_type=a%ffb", field: "event_type"},
		{name: "limit over 100", query: "limit=101", field: "limit"},
		{name: "limit zero", query: "limit=0", field: "limit"},
		{name: "cursor garbage", query: "cursor=!!!", field: "cursor"},
		{name: "response_code not a number", query: "response_code=gone", field: "response_code", deliveriesOnly: true},
		{name: "response_code a fraction", query: "response_code=200.5", field: "response_code", deliveriesOnly: true},
		{name: "response_code in exponent form", query: "response_code=2e2", field: "response_code", deliveriesOnly: true},
		{name: "response_code zero", query: "response_code=0", field: "response_code", deliveriesOnly: true},
		{name: "response_code under 100", query: "response_code=99", field: "response_code", deliveriesOnly: true},
		{name: "response_code over 599", query: "response_code=600", field: "response_code", deliveriesOnly: true},
		{name: "response_code negative", query: "response_code=-200", field: "response_code", deliveriesOnly: true},
		{name: "response_code beyond int", query: "response_code=99999999999999999999", field: "response_code", deliveriesOnly: true},
	}
	for _, tc := range tests {
		paths := []string{"/v1/deliveries", "/v1/events"}
		if tc.deliveriesOnly {
			paths = paths[:1]
		}
		for _, path := range paths {
			t.Run(path+" "+tc.name, func(t *testing.T) {
				requireError(t, e.do(http.MethodGet, path+"?"+tc.query, key, ""), http.StatusUnprocessableEntity, hookflow.EINVALID, tc.field)
			})
		}
	}

	accepted := []string{
		"created_after=2026-11-23T17:00:00Z",
		"created_after=2026-11-23T17:00:00.123456789Z",
		"created_after=2026-11-23T18:00:00%2B01:00",
		"created_after=0001-01-01T00:00:00Z&created_before=9999-12-31T23:59:59Z",
		"created_after=2026-11-23T17:00:00Z&created_before=2026-11-23T17:00:00Z",
		"entity_id=" + strings.Repeat("é", 256),
		"response_code=100",
		"response_code=599",
	}
	for _, query := range accepted {
		for _, path := range []string{"/v1/deliveries", "/v1/events"} {
			t.Run(fmt.Sprintf("%s accepts %.60s", path, query), func(t *testing.T) {
				rec := e.do(http.MethodGet, path+"?"+query, key, "")
				require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
			})
		}
	}
}
