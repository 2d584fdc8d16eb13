package api_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

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
