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

// invalidBody is one bad request and the error it must get.
type invalidBody struct {
	name   string
	body   string
	status int
	code   string
	field  string
}

func TestCampaignCreateRefusesInvalidBodies(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	const bad = http.StatusUnprocessableEntity
	for _, tc := range []invalidBody{
		{name: "name missing", body: `{}`, status: bad, code: hookflow.EINVALID, field: "name"},
		{name: "name blank", body: `{"name":"  "}`, status: bad, code: hookflow.EINVALID, field: "name"},
		{name: "name number", body: `{"name":7}`, status: bad, code: hookflow.EINVALID, field: "name"},
		{name: "name with NUL", body: `{"name":"a\u0000b"}`, status: bad, code: hookflow.EINVALID, field: "name"},
		{name: "name too long", body: `{"name":"` + strings.Repeat("日", 201) + `"}`, status: bad, code: hookflow.EINVALID, field: "name"},
		{name: "unknown field", body: `{"name":"x","budget":5}`, status: bad, code: hookflow.EINVALID, field: "budget"},
		{name: "malformed", body: `{"name":`, status: http.StatusBadRequest, code: hookflow.EMALFORMED},
		{name: "not an object", body: `["x"]`, status: http.StatusBadRequest, code: hookflow.EMALFORMED},
		{name: "over 256 KiB", body: `{"name":"` + strings.Repeat("n", 300<<10) + `"}`, status: http.StatusRequestEntityTooLarge, code: hookflow.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(http.MethodPost, "/v1/campaigns", key, tc.body), tc.status, tc.code, tc.field)
			assert.Zero(t, e.count("campaigns"), "nothing written")
		})
	}
}

func TestCampaignWebhooksRefuseInvalidBodies(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	campaign := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"name":"spring"}`))["id"].(string)
	ok := e.do(http.MethodPut, "/v1/campaigns/"+campaign+"/webhooks", key, `{"webhooks":[{"kind":"default","url":"`+hookURL+`"}]}`)
	require.Equal(t, http.StatusOK, ok.Code, ok.Body.String())
	before := e.row("campaigns", campaign) + fmt.Sprint(e.count("campaign_webhooks"))

	hook := func(kind, url string) string { return fmt.Sprintf(`{"kind":%q,"url":%q}`, kind, url) }
	const bad = http.StatusUnprocessableEntity
	for _, tc := range []invalidBody{
		{name: "a fourth URL", body: `{"webhooks":` + list(4, func(i int) string { return hook("default", fmt.Sprintf("%s/%d", hookURL, i)) }) + `}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "unknown kind", body: `{"webhooks":[` + hook("payout", hookURL) + `]}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "kind missing", body: `{"webhooks":[{"url":"` + hookURL + `"}]}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "url missing", body: `{"webhooks":[{"kind":"default"}]}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "url not http", body: `{"webhooks":[` + hook("default", "ftp://example.com/x") + `]}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "url with credentials", body: `{"webhooks":[` + hook("default", "http://user:pw@example.com/x") + `]}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "webhooks missing", body: `{}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "webhooks not a list", body: `{"webhooks":{"kind":"default"}}`, status: bad, code: hookflow.EINVALID, field: "webhooks"},
		{name: "unknown field", body: `{"webhooks":[],"mode":"x"}`, status: bad, code: hookflow.EINVALID, field: "mode"},
		{name: "malformed", body: `{"webhooks":[`, status: http.StatusBadRequest, code: hookflow.EMALFORMED},
		{name: "over 256 KiB", body: `{"webhooks":[` + hook("default", hookURL+"/"+strings.Repeat("p", 300<<10)) + `]}`, status: http.StatusRequestEntityTooLarge, code: hookflow.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(http.MethodPut, "/v1/campaigns/"+campaign+"/webhooks", key, tc.body), tc.status, tc.code, tc.field)
			assert.Equal(t, before, e.row("campaigns", campaign)+fmt.Sprint(e.count("campaign_webhooks")), "nothing changed")
		})
	}
}

func TestFulfilmentCreateRefusesInvalidBodies(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	campaign := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"name":"spring"}`))["id"].(string)
	_, otherKey := e.account("other")
	othersCampaign := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", otherKey, `{"name":"theirs"}`))["id"].(string)

	// body is a valid fulfilment with one field replaced (or removed, with value "").
	body := func(field, value string) string {
		fields := map[string]string{"campaign_id": `"` + campaign + `"`, "reward_id": `"rw-1"`, "amount": `2`,
			"unit": `"free_months"`, "promoter": `{"id":77,"email":"pat@example.com"}`}
		if value == "" {
			delete(fields, field)
		} else {
			fields[field] = value
		}
		var parts []string
		for _, name := range []string{"campaign_id", "reward_id", "amount", "unit", "promoter", field} {
			if v, ok := fields[name]; ok {
				parts = append(parts, fmt.Sprintf("%q:%s", name, v))
				delete(fields, name)
			}
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	const bad = http.StatusUnprocessableEntity
	inv := hookflow.EINVALID
	for _, tc := range []invalidBody{
		{name: "campaign_id missing", body: body("campaign_id", ""), status: bad, code: inv, field: "campaign_id"},
		{name: "campaign_id unknown", body: body("campaign_id", `"00000000-0000-0000-0000-000000000000"`), status: bad, code: inv, field: "campaign_id"},
		{name: "campaign_id not a uuid", body: body("campaign_id", `"spring"`), status: bad, code: inv, field: "campaign_id"},
		{name: "campaign_id another account's", body: body("campaign_id", `"`+othersCampaign+`"`), status: bad, code: inv, field: "campaign_id"},
		{name: "campaign_id number", body: body("campaign_id", `5`), status: bad, code: inv, field: "campaign_id"},
		{name: "reward_id missing", body: body("reward_id", ""), status: bad, code: inv, field: "reward_id"},
		{name: "reward_id blank", body: body("reward_id", `"  "`), status: bad, code: inv, field: "reward_id"},
		{name: "reward_id too long", body: body("reward_id", `"`+strings.Repeat("r", 257)+`"`), status: bad, code: inv, field: "reward_id"},
		{name: "reward_id control character", body: body("reward_id", `"a\nb"`), status: bad, code: inv, field: "reward_id"},
		{name: "amount missing", body: body("amount", ""), status: bad, code: inv, field: "amount"},
		{name: "amount zero", body: body("amount", `0`), status: bad, code: inv, field: "amount"},
		{name: "amount negative", body: body("amount", `-3`), status: bad, code: inv, field: "amount"},
		{name: "amount huge", body: body("amount", `1e13`), status: bad, code: inv, field: "amount"},
		{name: "amount string", body: body("amount", `"2"`), status: bad, code: inv, field: "amount"},
		{name: "unit missing", body: body("unit", ""), status: bad, code: inv, field: "unit"},
		{name: "unit uppercase", body: body("unit", `"Credits"`), status: bad, code: inv, field: "unit"},
		{name: "unit too long", body: body("unit", `"`+strings.Repeat("u", 33)+`"`), status: bad, code: inv, field: "unit"},
		{name: "promoter missing", body: body("promoter", ""), status: bad, code: inv, field: "promoter"},
		{name: "promoter not an object", body: body("promoter", `[1]`), status: bad, code: inv, field: "promoter"},
		{name: "promoter without id", body: body("promoter", `{"email":"pat@example.com"}`), status: bad, code: inv, field: "promoter"},
		{name: "promoter id null", body: body("promoter", `{"id":null}`), status: bad, code: inv, field: "promoter"},
		{name: "promoter with NUL", body: body("promoter", `{"id":"p\u0000"}`), status: bad, code: inv, field: "promoter"},
		{name: "unknown field", body: body("status", `"completed"`), status: bad, code: inv, field: "status"},
		{name: "malformed", body: `{"campaign_id":`, status: http.StatusBadRequest, code: hookflow.EMALFORMED},
		{name: "over 256 KiB", body: body("promoter", `{"id":1,"bio":"`+strings.Repeat("b", 300<<10)+`"}`), status: http.StatusRequestEntityTooLarge, code: hookflow.ETOOLARGE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(http.MethodPost, "/v1/fulfilments", key, tc.body), tc.status, tc.code, tc.field)
			assert.Zero(t, e.count("fulfilments"), "nothing written")
			assert.Zero(t, e.count("events"), "nothing fired")
		})
	}

	created := e.do(http.MethodPost, "/v1/fulfilments", key, body("amount", "2"))
	require.Equal(t, http.StatusCreated, created.Code, created.Body.String())

	for _, query := range []string{"status=paid", "has_issues=maybe", "limit=0", "limit=101", "cursor=bogus"} {
		t.Run("list "+query, func(t *testing.T) {
			rec := e.do(http.MethodGet, "/v1/fulfilments?"+query, key, "")
			requireError(t, rec, bad, inv, strings.SplitN(query, "=", 2)[0])
		})
	}
}

// A campaign can carry the API client's own id, which names it everywhere after.
func TestCampaignOwnIDs(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	created := e.do(http.MethodPost, "/v1/campaigns", key, `{"id":7,"name":"Spring"}`)
	require.Equal(t, http.StatusCreated, created.Code, created.Body.String())
	c := decodeMap(t, created)
	assert.Equal(t, "7", c["id"], "a number means its decimal string")
	assert.True(t, strings.HasPrefix(c["secret_key"].(string), "whsec_"))
	named := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"id":"spring/2026","name":"Spring 2026"}`))
	assert.Equal(t, "spring/2026", named["id"])
	assigned := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"name":"No id"}`))
	assert.Len(t, assigned["id"], 36, "without an id hookflow assigns one")

	before := e.count("campaigns")
	for _, tc := range []invalidBody{
		{name: "same number", body: `{"id":7,"name":"again"}`, status: http.StatusConflict, code: hookflow.ECONFLICT, field: "id"},
		{name: "same as a string", body: `{"id":"7","name":"again"}`, status: http.StatusConflict, code: hookflow.ECONFLICT, field: "id"},
		{name: "zero", body: `{"id":0,"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "negative", body: `{"id":-7,"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "fraction", body: `{"id":7.5,"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "boolean", body: `{"id":true,"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "object", body: `{"id":{"n":7},"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "array", body: `{"id":[7],"name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "empty string", body: `{"id":"","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "blank", body: `{"id":"  ","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "over 128 characters", body: `{"id":"` + strings.Repeat("c", 129) + `","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "control character", body: `{"id":"a\nb","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "dot", body: `{"id":".","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
		{name: "dot dot", body: `{"id":"..","name":"x"}`, status: http.StatusUnprocessableEntity, code: hookflow.EINVALID, field: "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(http.MethodPost, "/v1/campaigns", key, tc.body), tc.status, tc.code, tc.field)
			assert.Equal(t, before, e.count("campaigns"), "nothing written")
		})
	}
	// An "id" of "" is not "no id": only absence lets hookflow choose.
	_, otherKey := e.account("other")
	theirs := e.do(http.MethodPost, "/v1/campaigns", otherKey, `{"id":7,"name":"Theirs"}`)
	require.Equal(t, http.StatusCreated, theirs.Code, "ids are unique per account, not across accounts")

	got := e.do(http.MethodGet, "/v1/campaigns/7", key, "")
	require.Equal(t, http.StatusOK, got.Code)
	assert.Equal(t, "Spring", decodeMap(t, got)["name"])
	assert.NotContains(t, got.Body.String(), "secret_key")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/campaigns/spring%2F2026", key, "").Code, "an id with a slash, escaped")
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/v1/campaigns", key, `{"id":"a+b c","name":"Plus"}`).Code)
	assert.Equal(t, "a+b c", decodeMap(t, e.do(http.MethodGet, "/v1/campaigns/a+b%20c", key, ""))["id"], "+ stays a plus in a path")
	for _, path := range []string{"/v1/campaigns/%FF", "/v1/campaigns/a%00b"} {
		requireError(t, e.do(http.MethodGet, path, key, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	}
	for _, q := range []string{"campaign_id=%FF", "campaign_id=a%00b"} {
		rec := e.do(http.MethodGet, "/v1/deliveries?"+q, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		assert.JSONEq(t, `{"data":[],"next_cursor":null}`, rec.Body.String())
	}
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/v1/campaigns/a+b%20c", key, "").Code)

	// Listing pages oldest first.
	var ids []any
	cursor := ""
	for page := 0; page < 5; page++ {
		rec := e.do(http.MethodGet, "/v1/campaigns?limit=2&cursor="+cursor, key, "")
		require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
		p := decodeMap(t, rec)
		for _, c := range p["data"].([]any) {
			ids = append(ids, c.(map[string]any)["id"])
			assert.NotContains(t, c, "secret_key")
		}
		if p["next_cursor"] == nil {
			break
		}
		cursor = p["next_cursor"].(string)
	}
	assert.Equal(t, []any{"7", "spring/2026", assigned["id"]}, ids)
	for _, q := range []string{"limit=0", "limit=101", "cursor=bogus"} {
		requireError(t, e.do(http.MethodGet, "/v1/campaigns?"+q, key, ""), http.StatusUnprocessableEntity, hookflow.EINVALID, strings.SplitN(q, "=", 2)[0])
	}

	// Deleted, its id is free again.
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/v1/campaigns/7", key, "").Code)
	requireError(t, e.do(http.MethodGet, "/v1/campaigns/7", key, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	requireError(t, e.do(http.MethodDelete, "/v1/campaigns/7", key, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	assert.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/v1/campaigns", key, `{"id":7,"name":"Spring again"}`).Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/campaigns/7", otherKey, "").Code, "the other account's 7 is untouched")
}

// Events, subscriptions and fulfilments name a campaign by its id, as a number too.
func TestCampaignIDsAsNumbersEverywhere(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	require.Equal(t, http.StatusCreated, e.do(http.MethodPost, "/v1/campaigns", key, `{"id":7,"name":"Spring"}`).Code)
	hooks := e.do(http.MethodPut, "/v1/campaigns/7/webhooks", key, `{"webhooks":[{"kind":"default","url":"`+hookURL+`/d"},{"kind":"fulfilment","url":"`+hookURL+`/f"}]}`)
	require.Equal(t, http.StatusOK, hooks.Code, hooks.Body.String())
	webhooks := decodeMap(t, hooks)["webhooks"].([]any)
	defaultHook := webhooks[0].(map[string]any)["id"].(string)
	sub := e.subscription(key, `{"url":"`+hookURL+`","campaign_ids":[7,"8"]}`)
	assert.Equal(t, []any{"7", "8"}, sub["campaign_ids"])

	out := e.event(key, `{"event_type":"lead_signup","campaign_id":7,"entity_id":1234}`)
	require.Len(t, out.Deliveries, 2, "the subscription filtering on 7 and the campaign's default URL")
	assert.Equal(t, sub["id"], out.Deliveries[0].SubscriptionID)
	assert.Equal(t, defaultHook, out.Deliveries[1].CampaignWebhookID)
	none := e.event(key, `{"event_type":"lead_signup","campaign_id":9}`)
	assert.Empty(t, none.Deliveries)

	f := e.do(http.MethodPost, "/v1/fulfilments", key, `{"campaign_id":7,"reward_id":"r1","amount":1,"unit":"credits","promoter":{"id":1}}`)
	require.Equal(t, http.StatusCreated, f.Code, f.Body.String())
	assert.Equal(t, "7", decodeMap(t, f)["campaign_id"])

	listed := decodeMap(t, e.do(http.MethodGet, "/v1/deliveries?campaign_id=7", key, ""))["data"].([]any)
	assert.Len(t, listed, 2, "the legacy delivery and the fulfilment's")
	one := decodeMap(t, e.do(http.MethodGet, "/v1/deliveries?campaign_webhook_id="+defaultHook, key, ""))["data"].([]any)
	require.Len(t, one, 1)
	record := one[0].(map[string]any)
	assert.Equal(t, float64(1234), record["entity_id"], "entity_id keeps its type")
	assert.IsType(t, float64(0), record["id"], "a delivery's id is a number")
	payload := record["payload"].(map[string]any)
	assert.Equal(t, "lead_signup", payload["event"].(map[string]any)["type"], "the legacy shape")
	assert.Empty(t, decodeMap(t, e.do(http.MethodGet, "/v1/deliveries?campaign_id=8", key, ""))["data"])
	assert.Empty(t, decodeMap(t, e.do(http.MethodGet, "/v1/deliveries?campaign_webhook_id=nope", key, ""))["data"])
}

// A campaign's secret rotates as a subscription's does, and Test webhook sends a
// recorded test delivery in the legacy shape.
func TestCampaignRotateAndTestWebhook(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	created := decodeMap(t, e.do(http.MethodPost, "/v1/campaigns", key, `{"id":"spring","name":"Spring"}`))
	hooks := decodeMap(t, e.do(http.MethodPut, "/v1/campaigns/spring/webhooks", key, `{"webhooks":[{"kind":"fulfilment","url":"`+hookURL+`"}]}`))
	hook := hooks["webhooks"].([]any)[0].(map[string]any)["id"].(string)

	rotated := e.do(http.MethodPost, "/v1/campaigns/spring/rotate-secret", key, "")
	require.Equal(t, http.StatusOK, rotated.Code, rotated.Body.String())
	r := decodeMap(t, rotated)
	assert.NotEqual(t, created["secret_key"], r["secret_key"])
	expires, err := time.Parse(time.RFC3339Nano, r["previous_secret_expires_at"].(string))
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now().Add(hookflow.SecretRotationGrace), expires, time.Minute)
	assert.Contains(t, e.do(http.MethodGet, "/v1/campaigns/spring", key, "").Body.String(), "previous_secret_expires_at")

	test := e.do(http.MethodPost, "/v1/campaigns/spring/webhooks/"+hook+"/test", key, "")
	require.Equal(t, http.StatusAccepted, test.Code, test.Body.String())
	d := decodeMap(t, test)
	assert.Equal(t, hook, d["campaign_webhook_id"])
	assert.Equal(t, true, d["test"])
	assert.Equal(t, hookflow.TestEventType, d["event_type"])
	payload := d["payload"].(map[string]any)
	assert.Equal(t, map[string]any{"test": true}, payload["data"])
	assert.Equal(t, hookflow.TestEventType, payload["event"].(map[string]any)["type"])
	listed := decodeMap(t, e.do(http.MethodGet, "/v1/deliveries?campaign_id=spring", key, ""))["data"].([]any)
	require.Len(t, listed, 1, "recorded and listed like any delivery")

	before := e.count("deliveries")
	for _, path := range []string{"/v1/campaigns/spring/webhooks/00000000-0000-4000-8000-000000000000/test",
		"/v1/campaigns/spring/webhooks/nope/test", "/v1/campaigns/autumn/webhooks/" + hook + "/test"} {
		requireError(t, e.do(http.MethodPost, path, key, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	}
	// A URL that was removed cannot be tested any more.
	require.Equal(t, http.StatusOK, e.do(http.MethodPut, "/v1/campaigns/spring/webhooks", key, `{"webhooks":[]}`).Code)
	requireError(t, e.do(http.MethodPost, "/v1/campaigns/spring/webhooks/"+hook+"/test", key, ""), http.StatusNotFound, hookflow.ENOTFOUND, "")
	assert.Equal(t, before, e.count("deliveries"), "nothing written")
}
