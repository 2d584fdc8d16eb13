package openapitest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/api/openapitest"
	"github.com/hookflow/hookflow/egress"
	"github.com/hookflow/hookflow/signing"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

const adminKey = "test-admin-key-0123456789"

// retrier accepts every retry: the exchange, not Temporal, is under test here.
type retrier struct{}

func (retrier) RetryDelivery(context.Context, hookflow.Delivery) error { return nil }

// switchable is a fulfilment checker and a readiness probe that fail while down is set.
type switchable struct{ down bool }

func (s *switchable) RunFulfilmentCheck(_ context.Context, accountID string) (string, error) {
	if s.down {
		return "", &hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the workflow service is unavailable, retry later"}
	}
	return "fulfilment-check-" + accountID, nil
}

func (s *switchable) Ready(context.Context) error {
	if s.down {
		return errors.New("temporal: connection refused")
	}
	return nil
}

type env struct {
	t       *testing.T
	db      *store.DB
	checker *openapitest.Checker
	deps    *switchable
	router  http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	checker, err := openapitest.New()
	require.NoError(t, err)
	db := storetest.MustOpen(t)
	deps := &switchable{}
	return &env{t: t, db: db, checker: checker, deps: deps, router: router(db, deps, nil)}
}

func router(db *store.DB, deps *switchable, limiter *api.IngestLimiter) http.Handler {
	return api.NewRouter(api.Deps{
		Accounts:      db,
		Subscriptions: db,
		Events:        db,
		Deliveries:    db,
		Campaigns:     db,
		Fulfilments:   db,
		Retrier:       retrier{},
		Checker:       deps,
		URLs:          egress.Guard{AllowPrivate: true},
		AdminKey:      adminKey,
		Ready:         deps.Ready,
		Metrics:       promhttp.Handler(),
		IngestLimiter: limiter,
	})
}

type answer struct {
	status int
	header http.Header
	body   []byte
}

func (a answer) object(t *testing.T) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(a.body, &v), "%s", a.body)
	return v
}

// exchange sends one request to h, requires the status want and requires the exchange to
// match the document. key "" sends no Authorization; header holds name, value pairs.
func (e *env) exchange(h http.Handler, want int, method, path, key, body string, header ...string) answer {
	e.t.Helper()
	var reqBody []byte
	req := httptest.NewRequest(method, path, nil)
	if body != "" {
		reqBody = []byte(body)
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	reqHeader := req.Header.Clone()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(e.t, want, rec.Code, "%s %s: %s", method, path, rec.Body)
	a := answer{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	require.NoError(e.t, e.checker.Check(method, path, reqHeader, reqBody, a.status, a.header, a.body))
	return a
}

func (e *env) do(want int, method, path, key, body string, header ...string) answer {
	e.t.Helper()
	return e.exchange(e.router, want, method, path, key, body, header...)
}

func TestRealExchangesMatchTheDocument(t *testing.T) {
	e := newEnv(t)

	// Operations.
	e.do(http.StatusOK, "GET", "/healthz", "", "")
	e.do(http.StatusOK, "GET", "/readyz", "", "")
	e.deps.down = true
	e.do(http.StatusServiceUnavailable, "GET", "/readyz", "", "")
	e.deps.down = false
	e.do(http.StatusOK, "GET", "/metrics", "", "")
	e.do(http.StatusOK, "GET", "/openapi.json", "", "")
	e.do(http.StatusOK, "GET", "/openapi.yaml", "", "")

	// Accounts.
	acc := e.do(http.StatusCreated, "POST", "/v1/accounts", adminKey, `{"name": "Acme"}`).object(t)
	key := acc["api_key"].(string)
	e.do(http.StatusUnauthorized, "POST", "/v1/accounts", "wrong-admin-key", `{"name": "Acme"}`)
	e.do(http.StatusUnauthorized, "POST", "/v1/accounts", "", `{"name": "Acme"}`)
	e.do(http.StatusUnprocessableEntity, "POST", "/v1/accounts", adminKey, `{}`)
	e.do(http.StatusBadRequest, "POST", "/v1/accounts", adminKey, `{"name": `)

	// Subscriptions.
	sub := e.do(http.StatusCreated, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/hook",
		"event_types": ["order.*", "lead_signup"], "description": "orders", "timeout": 10, "max_retries": 2,
		"headers": {"X-Team": "billing"}}`).object(t)
	subID := sub["id"].(string)
	e.do(http.StatusCreated, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/all"}`)
	e.do(http.StatusOK, "GET", "/v1/subscriptions", key, "")
	e.do(http.StatusOK, "GET", "/v1/subscriptions/"+subID, key, "")
	e.do(http.StatusOK, "PATCH", "/v1/subscriptions/"+subID, key, `{"description": "all orders", "active": true}`)
	e.do(http.StatusOK, "POST", "/v1/subscriptions/"+subID+"/rotate-secret", key, "")
	e.do(http.StatusOK, "GET", "/v1/subscriptions/"+subID, key, "") // with previous_secret_expires_at
	e.do(http.StatusAccepted, "POST", "/v1/subscriptions/"+subID+"/test", key, "")
	e.do(http.StatusUnprocessableEntity, "PATCH", "/v1/subscriptions/"+subID, key, `{"timeout": 500}`)
	e.do(http.StatusUnprocessableEntity, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/", "color": "red"}`)
	e.do(http.StatusBadRequest, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/"`)
	e.do(http.StatusUnauthorized, "GET", "/v1/subscriptions", "", "")
	e.do(http.StatusUnauthorized, "GET", "/v1/subscriptions", "hfk_0123456789abcdef_nope", "")
	e.do(http.StatusNotFound, "GET", "/v1/subscriptions/not-a-uuid", key, "")
	e.do(http.StatusNotFound, "GET", "/v1/subscriptions/00000000-0000-4000-8000-000000000000", key, "")
	// Both signature schemes, and a change from one to the other.
	edID := e.do(http.StatusCreated, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/v1a", "signature_scheme": "ed25519"}`).object(t)["id"].(string)
	e.do(http.StatusOK, "GET", "/v1/subscriptions/"+edID, key, "")
	e.do(http.StatusOK, "POST", "/v1/subscriptions/"+edID+"/rotate-secret", key, "")
	e.do(http.StatusOK, "PATCH", "/v1/subscriptions/"+edID, key, `{"signature_scheme": "hmac-sha256"}`)
	e.do(http.StatusOK, "PATCH", "/v1/subscriptions/"+edID, key, `{"signature_scheme": "ed25519"}`)
	e.do(http.StatusUnprocessableEntity, "PATCH", "/v1/subscriptions/"+edID, key, `{"signature_scheme": "rsa"}`)

	// Events and their deliveries.
	ingested := e.do(http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "order.paid", "action": "updated",
		"entity_type": "order", "entity_id": "o-1", "data": {"total": 12.5, "note": null},
		"changes": {"status": ["open", "paid"], "paid_at": [null, "2026-01-02"]}}`, "Idempotency-Key", "order-1-paid").object(t)
	eventID := ingested["event_id"].(string)
	deliveryID := fmt.Sprint(ingested["deliveries"].([]any)[0].(map[string]any)["id"])
	e.do(http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "order.paid", "action": "updated",
		"entity_type": "order", "entity_id": "o-1", "data": {"total": 12.5, "note": null},
		"changes": {"status": ["open", "paid"], "paid_at": [null, "2026-01-02"]}}`, "Idempotency-Key", "order-1-paid")
	e.do(http.StatusConflict, "POST", "/v1/events", key, `{"event_type": "order.refunded"}`, "Idempotency-Key", "order-1-paid")
	e.do(http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "nobody.listens"}`)
	e.do(http.StatusUnprocessableEntity, "POST", "/v1/events", key, `{"event_type": "fulfilment_pending"}`)
	e.do(http.StatusRequestEntityTooLarge, "POST", "/v1/events", key,
		`{"event_type": "order.paid", "data": {"blob": "`+strings.Repeat("x", 300<<10)+`"}}`)
	e.do(http.StatusOK, "GET", "/v1/events/"+eventID, key, "")
	e.do(http.StatusNotFound, "GET", "/v1/events/"+subID, key, "")

	page := e.do(http.StatusOK, "GET", "/v1/deliveries?limit=1", key, "").object(t)
	require.NotNil(t, page["next_cursor"])
	e.do(http.StatusOK, "GET", "/v1/deliveries?limit=1&cursor="+page["next_cursor"].(string), key, "")
	e.do(http.StatusOK, "GET", "/v1/deliveries?status=pending&event_type=order.paid&subscription_id="+subID+"&event_id="+eventID, key, "")
	e.do(http.StatusUnprocessableEntity, "GET", "/v1/deliveries?status=lost", key, "")
	e.do(http.StatusUnprocessableEntity, "GET", "/v1/deliveries?limit=1000", key, "")
	e.do(http.StatusUnprocessableEntity, "GET", "/v1/deliveries?cursor=bogus", key, "")
	e.do(http.StatusOK, "GET", "/v1/deliveries/"+deliveryID, key, "")
	e.do(http.StatusAccepted, "POST", "/v1/deliveries/"+deliveryID+"/retry", key, "")
	code := 200
	started := time.Now().UTC()
	stored, err := e.db.FindDelivery(context.Background(), acc["id"].(string), deliveryID)
	require.NoError(t, err)
	require.NoError(t, e.db.RecordAttempt(context.Background(), hookflow.AttemptRecord{DeliveryID: stored.Key,
		Attempt: hookflow.Attempt{Number: 1, StartedAt: started, DurationMS: 12, ResponseCode: &code,
			ResponseBody: "ok", Trigger: hookflow.TriggerManual}, Status: hookflow.StatusDelivered}))
	detail := e.do(http.StatusOK, "GET", "/v1/deliveries/"+deliveryID, key, "").object(t)
	require.Len(t, detail["attempt_log"], 1)
	e.do(http.StatusConflict, "POST", "/v1/deliveries/"+deliveryID+"/retry", key, "")
	e.do(http.StatusNotFound, "POST", "/v1/deliveries/nope/retry", key, "")

	// Campaigns, legacy webhooks and fulfilments.
	campaign := e.do(http.StatusCreated, "POST", "/v1/campaigns", key, `{"name": "Spring referrals"}`).object(t)
	campaignID := campaign["id"].(string)
	e.do(http.StatusOK, "GET", "/v1/campaigns/"+campaignID, key, "")
	e.do(http.StatusOK, "PUT", "/v1/campaigns/"+campaignID+"/webhooks", key, `{"webhooks": [
		{"kind": "default", "url": "http://127.0.0.1:9/legacy"}, {"kind": "fulfilment", "url": "http://127.0.0.1:9/fulfil"}]}`)
	e.do(http.StatusUnprocessableEntity, "PUT", "/v1/campaigns/"+campaignID+"/webhooks", key, `{"webhooks": [
		{"kind": "default", "url": "http://127.0.0.1:9/1"}, {"kind": "default", "url": "http://127.0.0.1:9/2"},
		{"kind": "default", "url": "http://127.0.0.1:9/3"}, {"kind": "default", "url": "http://127.0.0.1:9/4"}]}`)
	e.do(http.StatusNotFound, "PUT", "/v1/campaigns/"+subID+"/webhooks", key, `{"webhooks": []}`)
	e.do(http.StatusNotFound, "GET", "/v1/campaigns/"+subID, key, "")
	edCampaign := e.do(http.StatusCreated, "POST", "/v1/campaigns", key, `{"name": "Signed", "signature_scheme": "ed25519"}`).object(t)["id"].(string)
	e.do(http.StatusOK, "POST", "/v1/campaigns/"+edCampaign+"/rotate-secret", key, "")
	e.do(http.StatusOK, "POST", "/v1/campaigns/"+edCampaign+"/rotate-secret", key, `{"signature_scheme": "hmac-sha256"}`)
	e.do(http.StatusUnprocessableEntity, "POST", "/v1/campaigns/"+edCampaign+"/rotate-secret", key, `{"signature_scheme": "rsa"}`)
	e.do(http.StatusOK, "GET", "/v1/campaigns", key, "")
	e.do(http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "lead_signup", "campaign_id": "`+campaignID+`"}`)

	fulfilment := e.do(http.StatusCreated, "POST", "/v1/fulfilments", key, `{"campaign_id": "`+campaignID+`",
		"reward_id": "r-1", "amount": 2, "unit": "free_months", "promoter": {"id": 42, "email": "p@example.com"}}`).object(t)
	fulfilmentID := fulfilment["id"].(string)
	e.do(http.StatusUnprocessableEntity, "POST", "/v1/fulfilments", key, `{"campaign_id": "`+subID+`",
		"reward_id": "r-1", "amount": 2, "unit": "free_months", "promoter": {"id": 42}}`)
	e.do(http.StatusOK, "GET", "/v1/fulfilments/"+fulfilmentID, key, "")
	e.do(http.StatusNotFound, "GET", "/v1/fulfilments/"+campaignID, key, "")
	e.do(http.StatusOK, "GET", "/v1/fulfilments", key, "")
	e.do(http.StatusOK, "GET", "/v1/fulfilments?status=pending&has_issues=false&limit=10", key, "")
	e.do(http.StatusUnprocessableEntity, "GET", "/v1/fulfilments?has_issues=maybe", key, "")
	e.do(http.StatusAccepted, "POST", "/v1/fulfilment-checks", key, "")
	e.deps.down = true
	unavailable := e.do(http.StatusServiceUnavailable, "POST", "/v1/fulfilment-checks", key, "")
	assert.NotEmpty(t, unavailable.header.Get("Retry-After"))
	e.deps.down = false

	// Every kind of delivery (subscription, campaign webhook, fulfilment) in one listing.
	all := e.do(http.StatusOK, "GET", "/v1/deliveries?limit=100", key, "").object(t)
	kinds := map[string]bool{}
	for _, d := range all["data"].([]any) {
		for _, field := range []string{"subscription_id", "campaign_webhook_id", "fulfilment_id"} {
			if _, ok := d.(map[string]any)[field]; ok {
				kinds[field] = true
			}
		}
	}
	assert.Len(t, kinds, 3, "the listing shows every kind of delivery")

	e.do(http.StatusNoContent, "DELETE", "/v1/subscriptions/"+subID, key, "")
	e.do(http.StatusNotFound, "DELETE", "/v1/subscriptions/"+subID, key, "")

	// The ingest rate limit.
	limited := router(e.db, e.deps, api.NewIngestLimiter(0.001))
	e.exchange(limited, http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "order.paid"}`)
	tooMany := e.exchange(limited, http.StatusTooManyRequests, "POST", "/v1/events", key, `{"event_type": "order.paid"}`)
	assert.NotEmpty(t, tooMany.header.Get("Retry-After"))
	// Every other call that sends or writes shares the account's rate: none of them is a
	// way around it.
	for _, call := range []struct{ method, path, body string }{
		{"POST", "/v1/subscriptions", `{"url": "http://127.0.0.1:9/hook"}`},
		{"POST", "/v1/deliveries/" + deliveryID + "/retry", ""},
		{"POST", "/v1/campaigns", `{"name": "more"}`},
		{"POST", "/v1/fulfilments", `{"campaign_id": "` + campaignID + `", "reward_id": "r", "amount": 1, "unit": "credits", "promoter": {"id": 1}}`},
		{"POST", "/v1/fulfilment-checks", ""},
	} {
		limitedCall := e.exchange(limited, http.StatusTooManyRequests, call.method, call.path, key, call.body)
		assert.NotEmpty(t, limitedCall.header.Get("Retry-After"), "%s %s", call.method, call.path)
	}
}

// tamper returns body with f applied to its decoded object.
func tamper(t *testing.T, body []byte, f func(map[string]any)) []byte {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(body, &v))
	f(v)
	out, err := json.Marshal(v)
	require.NoError(t, err)
	return out
}

func TestCheckerCatchesAnswersThatBreakTheDocument(t *testing.T) {
	e := newEnv(t)
	key := e.do(http.StatusCreated, "POST", "/v1/accounts", adminKey, `{"name": "Acme"}`).object(t)["api_key"].(string)
	created := e.do(http.StatusCreated, "POST", "/v1/subscriptions", key, `{"url": "http://127.0.0.1:9/hook"}`)
	subID := created.object(t)["id"].(string)
	got := e.do(http.StatusOK, "GET", "/v1/subscriptions/"+subID, key, "")
	e.do(http.StatusAccepted, "POST", "/v1/events", key, `{"event_type": "order.paid"}`)
	page := e.do(http.StatusOK, "GET", "/v1/deliveries", key, "")
	campaignID := e.do(http.StatusCreated, "POST", "/v1/campaigns", key, `{"name": "C"}`).object(t)["id"].(string)
	fulfilment := e.do(http.StatusCreated, "POST", "/v1/fulfilments", key, `{"campaign_id": "`+campaignID+`",
		"reward_id": "r", "amount": 1, "unit": "credits", "promoter": {"id": "p"}}`)
	notFound := e.do(http.StatusNotFound, "GET", "/v1/subscriptions/nope", key, "")
	c := e.checker
	path := "/v1/subscriptions/" + subID
	signingKey, _, err := signing.NewKeyPair()
	require.NoError(t, err)

	// The untampered answers pass.
	require.NoError(t, c.CheckResponse("GET", path, got.status, got.header, got.body))
	require.NoError(t, c.CheckResponse("GET", "http://10.1.2.3:31337"+path, got.status, got.header, got.body),
		"routes match on the path, whatever the host")

	cases := []struct {
		name   string
		method string
		path   string
		status int
		header http.Header
		body   []byte
	}{
		{"a GET answer showing a signing key", "GET", path, 200, got.header,
			tamper(t, got.body, func(v map[string]any) { v["secret_key"] = signingKey })},
		{"a created subscription showing a signing key", "POST", "/v1/subscriptions", 201, created.header,
			tamper(t, created.body, func(v map[string]any) { v["secret_key"] = signingKey })},
		{"a public key that is not one", "POST", "/v1/subscriptions", 201, created.header,
			tamper(t, created.body, func(v map[string]any) { v["public_key"] = signingKey })},
		{"an unknown signature scheme", "GET", path, 200, got.header,
			tamper(t, got.body, func(v map[string]any) { v["signature_scheme"] = "rsa" })},
		{"a required field missing", "GET", path, 200, got.header,
			tamper(t, got.body, func(v map[string]any) { delete(v, "max_retries") })},
		{"a field of the wrong type", "GET", path, 200, got.header,
			tamper(t, got.body, func(v map[string]any) { v["timeout"] = "30s" })},
		{"an id that is not a UUID", "GET", path, 200, got.header,
			tamper(t, got.body, func(v map[string]any) { v["id"] = "sub_1" })},
		{"a listed delivery with its attempt log", "GET", "/v1/deliveries", 200, page.header,
			tamper(t, page.body, func(v map[string]any) { v["data"].([]any)[0].(map[string]any)["attempt_log"] = []any{} })},
		{"a page without next_cursor", "GET", "/v1/deliveries", 200, page.header,
			tamper(t, page.body, func(v map[string]any) { delete(v, "next_cursor") })},
		{"an unknown delivery status", "GET", "/v1/deliveries", 200, page.header,
			tamper(t, page.body, func(v map[string]any) { v["data"].([]any)[0].(map[string]any)["status"] = "lost" })},
		{"a date that is not a date-time", "POST", "/v1/fulfilments", 201, fulfilment.header,
			tamper(t, fulfilment.body, func(v map[string]any) { v["date_paid"] = "yesterday" })},
		{"an error with the code of another status", "GET", "/v1/subscriptions/nope", 404, notFound.header,
			tamper(t, notFound.body, func(v map[string]any) { v["error"].(map[string]any)["code"] = "invalid" })},
		{"an error without a message", "GET", "/v1/subscriptions/nope", 404, notFound.header,
			tamper(t, notFound.body, func(v map[string]any) { delete(v["error"].(map[string]any), "message") })},
		{"an undocumented status", "GET", path, http.StatusTeapot, got.header, got.body},
		{"a 503 without Retry-After", "GET", path, 503, notFound.header,
			[]byte(`{"error": {"code": "unavailable", "message": "the database is unavailable, retry later"}}`)},
		{"a 204 with a body", "DELETE", path, 204, got.header, got.body},
		{"a body that is not JSON", "GET", path, 200, got.header, []byte("<html>")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := c.CheckResponse(tc.method, tc.path, tc.status, tc.header, tc.body)
			require.Error(t, err)
			assert.NotErrorIs(t, err, openapitest.ErrNotDocumented)
			// Check judges the answer whatever the status.
			assert.Error(t, c.Check(tc.method, tc.path, nil, nil, tc.status, tc.header, tc.body))
		})
	}
}

func TestCheckerJudgesRequests(t *testing.T) {
	c, err := openapitest.New()
	require.NoError(t, err)
	auth := http.Header{"Authorization": {"Bearer hfk_anything"}, "Content-Type": {"application/json"}}
	valid := []byte(`{"url": "https://example.com/hook", "timeout": 120, "max_retries": 0, "event_types": ["*", "a.*", "a.b"]}`)
	require.NoError(t, c.CheckRequest("POST", "/v1/subscriptions", auth, valid))
	// A path id that is not a UUID is a valid request: the server answers 404, not 400.
	require.NoError(t, c.CheckRequest("GET", "/v1/subscriptions/not-a-uuid", auth, nil))

	headers := map[string]string{}
	for i := range hookflow.MaxHeaders + 1 {
		headers[fmt.Sprintf("X-H%d", i)] = "v"
	}
	raw, err := json.Marshal(headers)
	require.NoError(t, err)
	tooManyHeaders := string(raw)
	for name, body := range map[string]string{
		"timeout out of range": `{"url": "https://example.com/hook", "timeout": 500}`,
		"unknown field":        `{"url": "https://example.com/hook", "colour": "red"}`,
		"missing url":          `{"timeout": 10}`,
		"relative url":         `{"url": "/hook"}`,
		"bad event type":       `{"url": "https://example.com/hook", "event_types": ["a.*.b"]}`,
		"too many headers":     `{"url": "https://example.com/hook", "headers": ` + tooManyHeaders + `}`,
		"not JSON":             `{"url": `,
	} {
		err := c.CheckRequest("POST", "/v1/subscriptions", auth, []byte(body))
		assert.Error(t, err, name)
	}
	assert.Error(t, c.CheckRequest("POST", "/v1/subscriptions", http.Header{"Content-Type": {"application/json"}}, valid), "no key")
	assert.Error(t, c.CheckRequest("POST", "/v1/events", auth, []byte(`{"event_type": "fulfilment_pending"}`)))
	assert.Error(t, c.CheckRequest("GET", "/v1/deliveries?limit=0", auth, nil))
	assert.NoError(t, c.CheckRequest("GET", "/healthz", nil, nil), "probes need no key")

	// A deliberately invalid request answered with a documented error passes Check: the
	// request is judged only when it was accepted.
	refused := []byte(`{"error": {"code": "invalid", "message": "timeout: must be between 1 and 120 seconds"}}`)
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	require.NoError(t, c.Check("POST", "/v1/subscriptions", auth, []byte(`{"url": "https://example.com/hook", "timeout": 500}`),
		http.StatusUnprocessableEntity, jsonHeader, refused))

	for _, route := range [][2]string{{"GET", "/v1/nothing-here"}, {"PUT", "/v1/events"}, {"GET", "/"}} {
		err := c.CheckResponse(route[0], route[1], 404, jsonHeader, []byte(`{}`))
		assert.ErrorIs(t, err, openapitest.ErrNotDocumented, "%s %s", route[0], route[1])
		assert.ErrorIs(t, c.CheckRequest(route[0], route[1], auth, nil), openapitest.ErrNotDocumented)
	}
}

func TestCheckerIsSafeForConcurrentUse(t *testing.T) {
	c, err := openapitest.New()
	require.NoError(t, err)
	auth := http.Header{"Authorization": {"Bearer hfk_anything"}, "Content-Type": {"application/json"}}
	answer := []byte(`{"id": "1b81ab70-f895-46ac-a0dd-7c21a38a872c", "url": "https://example.com/hook", "event_types": ["*"],
		"campaign_ids": [], "description": "", "active": true, "timeout": 30, "max_retries": 3, "rate_limit": 0, "headers": {},
		"signature_scheme": "hmac-sha256", "paused": false, "paused_at": null, "paused_reason": "",
		"created_at": "2026-11-23T17:15:44.103247Z", "updated_at": "2026-11-23T17:15:44.103247Z"}`)
	jsonHeader := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for range 8 {
		wg.Go(func() {
			for range 8 {
				errs <- c.Check("PATCH", "/v1/subscriptions/1b81ab70-f895-46ac-a0dd-7c21a38a872c", auth,
					[]byte(`{"event_types": ["a.*"], "headers": {"X-A": "b"}}`), http.StatusOK, jsonHeader, answer)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
