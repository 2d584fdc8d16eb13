package api_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api/openapitest"
)

func TestSubscriptionHealth(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	sub := e.subscription(key, `{"url":"`+hookURL+`"}`)["id"].(string)
	checker, err := openapitest.New()
	require.NoError(t, err)
	get := func(query string) map[string]any {
		t.Helper()
		path := "/v1/subscriptions/" + sub + "/health" + query
		rec := e.do(http.MethodGet, path, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		require.NoError(t, checker.CheckResponse(http.MethodGet, "http://hookflow.test"+path, rec.Code, rec.Header(), rec.Body.Bytes()))
		return decodeMap(t, rec)
	}

	empty := get("")
	assert.Equal(t, "24h", empty["window"])
	assert.EqualValues(t, 0, empty["attempts"])
	assert.Nil(t, empty["success_rate"])
	assert.Nil(t, empty["last_failure"])
	assert.Len(t, empty["hours"], 24)

	started := time.Now().UTC().Add(-time.Minute)
	for i, code := range []int{200, 200, 200, 503} {
		out := e.event(key, `{"event_type":"promoter.created"}`)
		c := code
		a := hookflow.Attempt{Number: 1, StartedAt: started.Add(time.Duration(i) * time.Second), DurationMS: 100, ResponseCode: &c,
			Trigger: hookflow.TriggerAutomatic}
		status := hookflow.StatusDelivered
		if code != 200 {
			a.Error, status = "endpoint answered 503 Service Unavailable", hookflow.StatusFailed
		}
		require.NoError(t, e.db.RecordAttempt(t.Context(), hookflow.AttemptRecord{DeliveryID: e.deliveryKey(out.Deliveries[0].ID),
			Attempt: a, Status: status, At: a.StartedAt}))
	}
	for _, query := range []string{"", "?window=24h", "?window=7d"} {
		h := get(query)
		assert.EqualValues(t, 4, h["attempts"], query)
		assert.EqualValues(t, 3, h["succeeded"])
		assert.EqualValues(t, 1, h["server_errors"])
		assert.InDelta(t, 0.75, h["success_rate"], 1e-9)
		assert.InEpsilon(t, 100, h["latency_p95_ms"], 0.1)
		failure := h["last_failure"].(map[string]any)
		assert.EqualValues(t, 503, failure["response_code"])
		assert.Equal(t, "endpoint answered 503 Service Unavailable", failure["error"])
	}
	var week struct {
		Hours []json.RawMessage `json:"hours"`
	}
	rec := e.do(http.MethodGet, "/v1/subscriptions/"+sub+"/health?window=7d", key, "")
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &week))
	assert.Len(t, week.Hours, 168)

	for _, window := range []string{"1h", "30d", "7D", "%20"} {
		requireError(t, e.do(http.MethodGet, "/v1/subscriptions/"+sub+"/health?window="+window, key, ""),
			http.StatusUnprocessableEntity, hookflow.EINVALID, "window")
	}
}
