package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

// Every route that takes a body refuses, naming the field and writing nothing: a body not
// sent as JSON, invalid UTF-8, a lone surrogate escape, a key given twice (at the top and
// deeper down), and a number PostgreSQL cannot store.
func TestBodiesThatWouldBeRewrittenAreRefusedOnEveryRoute(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	e.db.Retention = 30 * 24 * time.Hour
	_, key := e.account("a")
	sub := e.subscription(key, `{"url":"`+hookURL+`"}`)["id"].(string)
	out := e.event(key, `{"event_type":"promoter.created"}`)
	campaign := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"name":"c"}`))["id"].(string)
	hourAgo := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)

	// Each route with a body that is valid but for %s, which stands for one field's value
	// (field), and one that nests an object (nested) where a key can be given twice deep
	// down.
	routes := []struct {
		method, path, auth, body, field, nested string
	}{
		{"POST", "/v1/accounts", adminKey, `{"name":%s}`, "name", ""},
		{"POST", "/v1/subscriptions", key, `{"url":"` + hookURL + `","description":%s}`, "description", `{"url":"` + hookURL + `","headers":{"X-A":"1","X-A":"2"}}`},
		{"PATCH", "/v1/subscriptions/" + sub, key, `{"description":%s}`, "description", `{"headers":{"X-A":"1","X-A":"2"}}`},
		{"POST", "/v1/events", key, `{"event_type":"a.b","entity_type":%s}`, "entity_type", `{"event_type":"a.b","data":{"k":{"x":1,"x":2}}}`},
		{"POST", "/v1/campaigns", key, `{"name":%s}`, "name", ""},
		{"PUT", "/v1/campaigns/" + campaign + "/webhooks", key, `{"webhooks":[{"kind":"default","url":%s}]}`, "webhooks", `{"webhooks":[{"kind":"default","kind":"fulfilment","url":"` + hookURL + `"}]}`},
		{"POST", "/v1/fulfilments", key, `{"campaign_id":"` + campaign + `","reward_id":"r","amount":1,"unit":%s,"promoter":{"id":1}}`, "unit", `{"campaign_id":"` + campaign + `","reward_id":"r","amount":1,"unit":"u","promoter":{"id":1,"id":2}}`},
		{"POST", "/v1/subscriptions/" + sub + "/pause", key, `{"reason":%s}`, "reason", ""},
		{"POST", "/v1/subscriptions/" + sub + "/recover", key, `{"since":"` + hourAgo + `","until":%s}`, "until", ""},
		{"POST", "/v1/events/" + out.EventID + "/replay", key, `{"subscription_id":%s}`, "subscription_id", ""},
	}
	snapshot := func() string {
		return fmt.Sprint(e.count("accounts"), e.count("subscriptions"), e.count("events"), e.count("deliveries"),
			e.count("campaigns"), e.count("campaign_webhooks"), e.count("fulfilments"), e.count("recoveries"),
			e.row("subscriptions", sub))
	}
	before := snapshot()
	for _, r := range routes {
		valid := fmt.Sprintf(r.body, `"ok"`)
		t.Run(r.method+" "+r.path, func(t *testing.T) {
			for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin1", ""} {
				rec := e.do(r.method, r.path, r.auth, valid, "Content-Type", ct)
				requireError(t, rec, http.StatusUnsupportedMediaType, hookflow.EUNSUPPORTED, "")
			}
			for _, value := range map[string]string{
				"invalid UTF-8":           "\"ok\xff\"",
				"a lone surrogate":        `"\ud800"`,
				"a lone low surrogate":    `"a\udc00b"`,
				"a huge number":           `1e1000000`,
				"a too precise number":    "0." + strings.Repeat("1", 16384),
				"a number of many digits": strings.Repeat("9", 131073),
			} {
				requireError(t, e.do(r.method, r.path, r.auth, fmt.Sprintf(r.body, value)), http.StatusUnprocessableEntity, hookflow.EINVALID, r.field)
			}
			dup := strings.Replace(valid, `"`+r.field+`":`, `"`+r.field+`":"x","`+r.field+`":`, 1)
			require.Equal(t, 2, strings.Count(dup, `"`+r.field+`":`))
			requireError(t, e.do(r.method, r.path, r.auth, dup), http.StatusUnprocessableEntity, hookflow.EINVALID, r.field)
			if r.nested != "" {
				detail := requireError(t, e.do(r.method, r.path, r.auth, r.nested), http.StatusUnprocessableEntity, hookflow.EINVALID, "")
				assert.Contains(t, detail.Message, "given twice")
			}
		})
	}
	require.Equal(t, before, snapshot(), "refused bodies write nothing")

	// A surrogate pair that is whole, and big numbers PostgreSQL holds, are kept as sent.
	rec := e.do("POST", "/v1/events", key, `{"event_type":"a.b","data":{"smile":"\ud83d\ude00","n":1e300,"m":-0.000001,"z":0e99999999}}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
}

// The key is what follows "Bearer" (in any case) and HTTP's spaces and tabs; any other
// character after it, a Unicode space included, makes another key.
func TestBearerTakesHTTPWhitespaceOnly(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("a")
	for _, header := range []string{"Bearer " + key, "bearer " + key, "BEARER  " + key + " \t", "Bearer\t" + key, " Bearer " + key} {
		rec := e.do(http.MethodGet, "/v1/subscriptions", "", "", "Authorization", header)
		assert.Equal(t, http.StatusOK, rec.Code, "%q: %s", header, rec.Body.String())
	}
	for _, header := range []string{"Bearer " + key + "\u00a0", "Bearer " + key + "\u2003", "Bearer\u00a0" + key, "Bearer " + key + "\x0b",
		"Bearer " + key + "x", "Basic " + key, "Bearer" + key, key, "Bearer " + key + " extra"} {
		rec := e.do(http.MethodGet, "/v1/subscriptions", "", "", "Authorization", header)
		requireError(t, rec, http.StatusUnauthorized, hookflow.EUNAUTHORIZED, "")
	}
}
