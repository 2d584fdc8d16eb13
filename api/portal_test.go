package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store/storetest"
)

type portalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

// mintPortalLink posts body with key and returns the link answered.
func (e *apiEnv) mintPortalLink(key, body string, header ...string) portalLink {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/v1/portal-links", key, body, header...)
	require.Equal(e.t, http.StatusCreated, rec.Code, rec.Body.String())
	var link portalLink
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &link))
	return link
}

// redeem opens the link's portal as the dashboard would.
func (e *apiEnv) redeem(link portalLink) hookflow.Portal {
	e.t.Helper()
	u, err := url.Parse(link.URL)
	require.NoError(e.t, err)
	token, ok := strings.CutPrefix(u.Path, "/portal/")
	require.True(e.t, ok, link.URL)
	p, err := e.db.RedeemPortalLink(context.Background(), token)
	require.NoError(e.t, err)
	return p
}

func TestPortalLinkWithAnAccountKey(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	accountID, key := e.account("Acme")

	link := e.mintPortalLink(key, `{"read_only":true,"brand_name":"Referral Cloud","logo_url":"https://cdn.example.com/logo.svg"}`)
	assert.True(t, strings.HasPrefix(link.URL, "http://example.com/portal/hfp_"), link.URL)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), link.ExpiresAt, time.Minute)
	keys, err := e.db.ListAPIKeys(context.Background(), accountID)
	require.NoError(t, err)
	// The link is the minting key's: revoking that key ends it and its session.
	assert.Equal(t, hookflow.Portal{AccountID: accountID, APIKeyID: keys[0].ID, ReadOnly: true, BrandName: "Referral Cloud",
		LogoURL: "https://cdn.example.com/logo.svg"}, e.redeem(link))

	// Every field may be left out, the body too.
	for _, body := range []string{"", "{}"} {
		p := e.redeem(e.mintPortalLink(key, body))
		assert.Equal(t, hookflow.Portal{AccountID: accountID, APIKeyID: keys[0].ID}, p)
	}

	// Behind a TLS proxy the link is https, on the host the client named.
	link = e.mintPortalLink(key, "", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "hooks.example.com")
	assert.True(t, strings.HasPrefix(link.URL, "https://hooks.example.com/portal/hfp_"), link.URL)
}

func TestPortalLinkWithTheAdminKey(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	accountID, _ := e.account("Acme")
	p := e.redeem(e.mintPortalLink(adminKey, `{"account_id":"`+accountID+`","brand_name":"Referral Cloud"}`))
	assert.Equal(t, hookflow.Portal{AccountID: accountID, BrandName: "Referral Cloud"}, p)

	for _, body := range []string{"", "{}", `{"account_id":""}`, `{"account_id":null}`} {
		rec := e.do(http.MethodPost, "/v1/portal-links", adminKey, body)
		requireError(t, rec, http.StatusUnprocessableEntity, hookflow.EINVALID, "account_id")
	}
	for _, id := range []string{uuid.NewString(), "not-a-uuid"} {
		rec := e.do(http.MethodPost, "/v1/portal-links", adminKey, `{"account_id":"`+id+`"}`)
		requireError(t, rec, http.StatusNotFound, hookflow.ENOTFOUND, "")
	}
}

func TestPortalLinkRefusesBadInputAndWritesNothing(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	accountID, key := e.account("Acme")
	for _, tc := range []struct {
		name, body, field string
	}{
		{"account_id with an account key", `{"account_id":"` + accountID + `"}`, "account_id"},
		{"brand_name too long", `{"brand_name":"` + strings.Repeat("b", 101) + `"}`, "brand_name"},
		{"brand_name with a line break", `{"brand_name":"a\nb"}`, "brand_name"},
		{"brand_name not text", `{"brand_name":7}`, "brand_name"},
		{"logo_url over http", `{"logo_url":"http://cdn.example.com/logo.png"}`, "logo_url"},
		{"logo_url not a URL", `{"logo_url":"logo.png"}`, "logo_url"},
		{"logo_url that would change the page's policy", `{"logo_url":"https://cdn.example.com;script-src *"}`, "logo_url"},
		{"logo_url too long", `{"logo_url":"https://cdn.example.com/` + strings.Repeat("a", 2048) + `"}`, "logo_url"},
		{"read_only not a boolean", `{"read_only":"yes"}`, "read_only"},
		{"an unknown field", `{"theme":"dark"}`, "theme"},
		{"a field twice", `{"read_only":true,"read_only":false}`, "read_only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.do(http.MethodPost, "/v1/portal-links", key, tc.body)
			requireError(t, rec, http.StatusUnprocessableEntity, hookflow.EINVALID, tc.field)
		})
	}
	assert.Zero(t, e.count("portal_links"))
	requireError(t, e.do(http.MethodPost, "/v1/portal-links", key, `{"read_only":`), http.StatusBadRequest, hookflow.EMALFORMED, "")
	rec := e.do(http.MethodPost, "/v1/portal-links", key, `{}`, "Content-Type", "text/plain")
	requireError(t, rec, http.StatusUnsupportedMediaType, hookflow.EUNSUPPORTED, "")
}

func TestPortalLinkNeedsAFullKeyOrTheAdminKey(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("Acme")
	for _, scope := range []hookflow.Scope{hookflow.ScopeRead, hookflow.ScopeIngest} {
		rec := e.do(http.MethodPost, "/v1/portal-links", e.mintKey(key, string(scope), scope).Key, "")
		detail := requireError(t, rec, http.StatusForbidden, hookflow.EFORBIDDEN, "")
		assert.Contains(t, detail.Message, "needs a key with the full scope")
	}
	for _, bad := range []string{"", "hfk_0123456789abcdef_" + strings.Repeat("A", 43), adminKey + "x", key + "x"} {
		requireError(t, e.do(http.MethodPost, "/v1/portal-links", bad, ""), http.StatusUnauthorized, hookflow.EUNAUTHORIZED, "")
	}
	assert.Zero(t, e.count("portal_links"))
}

func TestPortalLinkUsesThePublicURL(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc, err := db.CreateAccount(context.Background(), "Acme")
	require.NoError(t, err)
	router := api.NewRouter(api.Deps{Accounts: db, Portals: db, PortalLinkTTL: time.Minute,
		PublicURL: "https://hooks.example.com/"})
	e := &apiEnv{t: t, db: db, router: router}
	link := e.mintPortalLink(acc.APIKey, "", "X-Forwarded-Host", "elsewhere.example")
	assert.True(t, strings.HasPrefix(link.URL, "https://hooks.example.com/portal/hfp_"), link.URL)
	assert.WithinDuration(t, time.Now().Add(time.Minute), link.ExpiresAt, 30*time.Second)
}
