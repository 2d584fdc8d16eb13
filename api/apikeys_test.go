package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
)

// mintKey creates a key of the given scope with the account's full key.
func (e *apiEnv) mintKey(fullKey, name string, scope hookflow.Scope) hookflow.NewAPIKey {
	e.t.Helper()
	rec := e.do(http.MethodPost, "/v1/api-keys", fullKey, fmt.Sprintf(`{"name":%q,"scope":%q}`, name, scope))
	require.Equal(e.t, http.StatusCreated, rec.Code, rec.Body.String())
	var key hookflow.NewAPIKey
	require.NoError(e.t, json.Unmarshal(rec.Body.Bytes(), &key))
	require.Equal(e.t, scope, key.Scope)
	require.True(e.t, strings.HasPrefix(key.Key, "hfk_"), key.Key)
	return key
}

// TestEveryRouteUnderEveryScope walks the router's own route table, so a route added
// later is covered without editing this test: each account route is called with a key of
// each scope, and either gets past the scope check or is refused with 403 naming the scope
// it needs.
func TestEveryRouteUnderEveryScope(t *testing.T) {
	e := newAPI(t)
	_, full := e.account("Scopes")
	keys := map[hookflow.Scope]string{
		hookflow.ScopeFull:   full,
		hookflow.ScopeIngest: e.mintKey(full, "producer", hookflow.ScopeIngest).Key,
		hookflow.ScopeRead:   e.mintKey(full, "reports", hookflow.ScopeRead).Key,
	}
	routes := e.router.(*gin.Engine).Routes()
	checked := 0
	for _, r := range routes {
		if !strings.HasPrefix(r.Path, "/v1/") || adminRoute(r) {
			continue
		}
		need := api.RequiredScope(r.Method, r.Path)
		path := r.Path
		for _, seg := range strings.Split(r.Path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "00000000-0000-4000-8000-000000000000", 1)
			}
		}
		for scope, key := range keys {
			t.Run(fmt.Sprintf("%s %s as %s", r.Method, r.Path, scope), func(t *testing.T) {
				rec := e.do(r.Method, path, key, "{}")
				if scope == hookflow.ScopeFull || scope == need {
					assert.NotEqual(t, http.StatusForbidden, rec.Code, rec.Body.String())
					assert.NotEqual(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
					return
				}
				require.Equal(t, http.StatusForbidden, rec.Code, rec.Body.String())
				var body api.ErrorBody
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				assert.Equal(t, "forbidden", body.Error.Code)
				assert.Contains(t, body.Error.Message, fmt.Sprintf("needs a key with the %s scope", need))
			})
		}
		checked++
	}
	// The table is the router's: a broken walk must not pass by checking nothing.
	assert.Greater(t, checked, 30)

	assert.Equal(t, hookflow.ScopeIngest, api.RequiredScope(http.MethodPost, "/v1/events"))
	assert.Equal(t, hookflow.ScopeIngest, api.RequiredScope(http.MethodPost, "/v1/fulfilments"))
	assert.Equal(t, hookflow.ScopeRead, api.RequiredScope(http.MethodGet, "/v1/deliveries/:id"))
	assert.Equal(t, hookflow.ScopeFull, api.RequiredScope(http.MethodGet, "/v1/api-keys"))
	assert.Equal(t, hookflow.ScopeFull, api.RequiredScope(http.MethodPost, "/v1/deliveries/:id/retry"))
}

func adminRoute(r gin.RouteInfo) bool {
	return r.Path == "/v1/accounts" || strings.HasPrefix(r.Path, "/v1/accounts/")
}

func TestScopedKeysDoWhatTheirScopeAllows(t *testing.T) {
	e := newAPI(t)
	_, full := e.account("Acme")
	ingest := e.mintKey(full, "producer", hookflow.ScopeIngest).Key
	read := e.mintKey(full, "reports", hookflow.ScopeRead).Key

	rec := e.do(http.MethodPost, "/v1/events", ingest, `{"event_type":"lead_signup","data":{}}`)
	require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	var ingested hookflow.Ingested
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &ingested))

	// The ingest key cannot read what it posted; the read key can, and cannot post.
	assert.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/v1/events/"+ingested.EventID, ingest, "").Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/events/"+ingested.EventID, read, "").Code)
	rec = e.do(http.MethodPost, "/v1/events", read, `{"event_type":"lead_signup","data":{}}`)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "needs a key with the ingest scope")
	rec = e.do(http.MethodPost, "/v1/subscriptions", ingest, `{"url":"`+hookURL+`","event_types":["*"]}`)
	assert.Equal(t, http.StatusForbidden, rec.Code)
	assert.Contains(t, rec.Body.String(), "this API key has the ingest scope; this call needs a key with the full scope")
	// Neither can see the account's keys.
	assert.Equal(t, http.StatusForbidden, e.do(http.MethodGet, "/v1/api-keys", read, "").Code)
}

func TestAPIKeyLifecycle(t *testing.T) {
	e := newAPI(t)
	accountID, full := e.account("Acme")
	_, otherFull := e.account("Other")
	reports := e.mintKey(full, "reports", hookflow.ScopeRead)
	second := e.mintKey(full, "deploy", hookflow.ScopeFull)

	rec := e.do(http.MethodGet, "/v1/api-keys", full, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, rec.Body.String(), reports.Key, "a listing never shows a key's secret")
	var listed struct {
		Data []hookflow.APIKey `json:"data"`
	}
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &listed))
	require.Len(t, listed.Data, 3)
	assert.Equal(t, "default", listed.Data[0].Name)
	assert.Equal(t, hookflow.ScopeFull, listed.Data[0].Scope)

	// Another account's key id is not found, and stays valid.
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/api-keys/"+reports.ID, otherFull, "").Code)
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions", reports.Key, "").Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/api-keys/not-a-key", full, "").Code)

	// Revoked: refused at once by this replica, although it had the key cached.
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/v1/api-keys/"+reports.ID, full, "").Code)
	rec = e.do(http.MethodGet, "/v1/subscriptions", reports.Key, "")
	assert.Equal(t, http.StatusUnauthorized, rec.Code, rec.Body.String())
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodDelete, "/v1/api-keys/"+reports.ID, full, "").Code)

	// The account cannot revoke its last full key: with two, one goes; the other stays.
	require.Equal(t, http.StatusNoContent, e.do(http.MethodDelete, "/v1/api-keys/"+second.ID, full, "").Code)
	listed.Data = nil
	require.NoError(t, json.Unmarshal(e.do(http.MethodGet, "/v1/api-keys", full, "").Body.Bytes(), &listed))
	require.Len(t, listed.Data, 1)
	rec = e.do(http.MethodDelete, "/v1/api-keys/"+listed.Data[0].ID, full, "")
	assert.Equal(t, http.StatusConflict, rec.Code, rec.Body.String())
	assert.Contains(t, rec.Body.String(), "last full key")
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions", full, "").Code)

	// The admin lists accounts and mints a key for any of them; account keys cannot.
	rec = e.do(http.MethodGet, "/v1/accounts", adminKey, "")
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Contains(t, rec.Body.String(), accountID)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodGet, "/v1/accounts", full, "").Code)
	rec = e.do(http.MethodPost, "/v1/accounts/"+accountID+"/api-keys", adminKey, `{"name":"support","scope":"read"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	var minted hookflow.NewAPIKey
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &minted))
	assert.Equal(t, http.StatusOK, e.do(http.MethodGet, "/v1/subscriptions", minted.Key, "").Code)
	assert.Equal(t, http.StatusUnauthorized, e.do(http.MethodPost, "/v1/accounts/"+accountID+"/api-keys", full, `{"name":"x","scope":"full"}`).Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/v1/accounts/00000000-0000-4000-8000-000000000000/api-keys", adminKey, `{"name":"x","scope":"full"}`).Code)
	assert.Equal(t, http.StatusNotFound, e.do(http.MethodPost, "/v1/accounts/nope/api-keys", adminKey, `{"name":"x","scope":"full"}`).Code)
}

func TestAPIKeyBadInput(t *testing.T) {
	e := newAPI(t)
	_, full := e.account("Acme")
	for _, tc := range []struct{ body, field string }{
		{`{"name":"x","scope":"admin"}`, "scope"},
		{`{"name":"x"}`, "scope"},
		{`{"scope":"read"}`, "name"},
		{`{"name":"","scope":"read"}`, "name"},
		{`{"name":"` + strings.Repeat("n", 201) + `","scope":"read"}`, "name"},
		{`{"name":"x","scope":3}`, "scope"},
		{`{"name":"x","scope":"read","extra":1}`, "extra"},
	} {
		rec := e.do(http.MethodPost, "/v1/api-keys", full, tc.body)
		assert.Equal(t, http.StatusUnprocessableEntity, rec.Code, tc.body+": "+rec.Body.String())
		assert.Contains(t, rec.Body.String(), tc.field, tc.body)
	}
	assert.Equal(t, http.StatusBadRequest, e.do(http.MethodPost, "/v1/api-keys", full, `{"name":`).Code)
}
