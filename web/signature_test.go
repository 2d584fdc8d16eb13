package web

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

// subscriptionFormValues is what the subscription form posts, with fields replaced by extra.
func subscriptionFormValues(extra url.Values) url.Values {
	form := url.Values{"url": {"https://example.com/hooks"}, "event_types": {"*"}, "active": {"on"},
		"timeout": {"30"}, "max_retries": {"3"}}
	for k, v := range extra {
		form[k] = v
	}
	return form
}

// An ed25519 subscription made with the form shows its public key with a hint of how to
// verify with it, and no page shows its signing key; changing the scheme is a rotation.
func TestSignatureSchemeInTheDashboard(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	ctx := context.Background()
	b := e.browser()
	b.signIn(acc.APIKey)

	form := b.get("/subscriptions/new").body
	assert.Contains(t, form, `<option value="hmac-sha256" selected>`, "HMAC is the default")
	assert.Contains(t, form, `<option value="ed25519">`)

	bad := b.post("/subscriptions", subscriptionFormValues(url.Values{"signature_scheme": {"rsa"}}))
	assert.Equal(t, http.StatusUnprocessableEntity, bad.status)
	assert.Contains(t, bad.body, `id="signature_scheme-error">must be`)

	p := b.post("/subscriptions", subscriptionFormValues(url.Values{"signature_scheme": {"ed25519"}}))
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	subs, err := e.db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	sub := subs[0]
	require.Equal(t, hookflow.SignatureEd25519, sub.SignatureScheme)
	require.True(t, strings.HasPrefix(sub.SecretKey, signing.SigningKeyPrefix))

	page := html.UnescapeString(b.get(p.header.Get("Location")).body)
	assert.Contains(t, page, `<code id="public-key">`+sub.PublicKey+`</code>`)
	assert.Contains(t, page, "-public-key", "a hint of how to verify")
	assert.NotContains(t, page, "Reveal secret")
	assert.Contains(t, page, `<dd id="signature-scheme"><code>ed25519</code></dd>`)

	edit := b.get("/subscriptions/" + sub.ID + "/edit").body
	assert.Contains(t, edit, `<option value="ed25519" selected>`)

	// Rotating, then going back to HMAC: a rotation each time.
	require.Equal(t, http.StatusSeeOther, b.post("/subscriptions/"+sub.ID+"/rotate-secret", nil).status)
	rotated, err := e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.NotEqual(t, sub.PublicKey, rotated.PublicKey)
	changed := b.post("/subscriptions/"+sub.ID+"/edit", subscriptionFormValues(url.Values{"signature_scheme": {"hmac-sha256"}}))
	require.Equal(t, http.StatusSeeOther, changed.status, changed.body)
	assert.Equal(t, "/subscriptions/"+sub.ID+"?notice=scheme-changed#secret", changed.header.Get("Location"))
	back, err := e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureHMACSHA256, back.SignatureScheme)
	assert.Len(t, back.RetiredSecrets, 2, "both signing keys keep signing for their grace periods")
	page = html.UnescapeString(b.get("/subscriptions/" + sub.ID + "?notice=scheme-changed").body)
	assert.Contains(t, page, `<code id="secret-key">`+back.SecretKey+`</code>`, "the new secret, shown open")
	assert.Contains(t, page, `<details class="secret" open>`)
	assert.Contains(t, page, "The new signature scheme came with a new key")

	// The same for campaigns: the scheme on create, a new one on rotation.
	created := b.post("/campaigns", url.Values{"name": {"Spring"}, "id": {"7"}, "signature_scheme": {"ed25519"}})
	require.Equal(t, http.StatusSeeOther, created.status, created.body)
	camp, err := e.db.FindCampaign(ctx, acc.ID, "7")
	require.NoError(t, err)
	require.Equal(t, hookflow.SignatureEd25519, camp.SignatureScheme)
	campPage := html.UnescapeString(b.get("/campaigns/7").body)
	assert.Contains(t, campPage, `<code id="public-key">`+camp.PublicKey+`</code>`)
	assert.NotContains(t, campPage, "Reveal secret")
	require.Equal(t, http.StatusSeeOther, b.post("/campaigns/7/rotate-secret", url.Values{"signature_scheme": {"hmac-sha256"}}).status)
	camp, err = e.db.FindCampaign(ctx, acc.ID, "7")
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureHMACSHA256, camp.SignatureScheme)
	assert.Contains(t, html.UnescapeString(b.get("/campaigns/7").body), camp.SecretKey)
	require.Equal(t, http.StatusSeeOther, b.post("/campaigns/7/rotate-secret", url.Values{"signature_scheme": {"ed25519"}}).status)
	badCampaign := b.post("/campaigns", url.Values{"name": {"Autumn"}, "signature_scheme": {"rsa"}})
	assert.Equal(t, http.StatusUnprocessableEntity, badCampaign.status)
	assert.Contains(t, badCampaign.body, `id="signature_scheme-error"`)

	// No page of the dashboard shows a signing key.
	p = b.post("/subscriptions", subscriptionFormValues(url.Values{"url": {"https://example.com/v1a"}, "signature_scheme": {"ed25519"}}))
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	edID := strings.TrimPrefix(strings.Split(p.header.Get("Location"), "?")[0], "/subscriptions/")
	test := b.post("/subscriptions/"+edID+"/test", nil)
	require.Equal(t, http.StatusSeeOther, test.status)
	page = b.get(test.header.Get("Location")).body
	deliveryPath := regexpFind(t, page, `/deliveries/[0-9]+`)
	for _, path := range []string{"/", "/subscriptions/" + edID, "/subscriptions/" + edID + "?notice=rotated",
		"/subscriptions/" + edID + "/edit", "/subscriptions/" + edID + "/delete", deliveryPath,
		"/subscriptions/" + sub.ID, "/campaigns", "/campaigns/7", "/campaigns/7?notice=rotated"} {
		got := b.get(path)
		require.Equal(t, http.StatusOK, got.status, path)
		assert.NotContains(t, got.body, signing.SigningKeyPrefix, path)
	}
}

func regexpFind(t *testing.T, s, pattern string) string {
	t.Helper()
	found := regexp.MustCompile(pattern).FindString(s)
	require.NotEmpty(t, found, "no %s in the page", pattern)
	return found
}
