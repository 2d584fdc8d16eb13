package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

var publicKeyPattern = `^whpk_[A-Za-z0-9+/]{43}=$`

func objectKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// A signature scheme hookflow does not know is the client's mistake, named, wherever it is
// given; a refused one changes nothing.
func TestUnknownSignatureSchemeIsRefused(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	_, key := e.account("acme")
	sub := e.subscription(key, `{"url":"`+hookURL+`"}`)
	id := sub["id"].(string)
	campaign := e.do(http.MethodPost, "/v1/campaigns", key, `{"id":"7","name":"Spring"}`)
	require.Equal(t, http.StatusCreated, campaign.Code, campaign.Body.String())
	before := e.count("subscriptions")

	for _, tc := range []struct{ name, method, path, body string }{
		{"create", http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","signature_scheme":"rsa"}`},
		{"create, empty", http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","signature_scheme":""}`},
		{"create, a version instead", http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","signature_scheme":"v1a"}`},
		{"create, not a string", http.MethodPost, "/v1/subscriptions", `{"url":"` + hookURL + `","signature_scheme":1}`},
		{"update", http.MethodPatch, "/v1/subscriptions/" + id, `{"signature_scheme":"ED25519"}`},
		{"campaign create", http.MethodPost, "/v1/campaigns", `{"name":"Autumn","signature_scheme":"hmac"}`},
		{"campaign rotation", http.MethodPost, "/v1/campaigns/7/rotate-secret", `{"signature_scheme":"rsa"}`},
		{"campaign rotation, not a string", http.MethodPost, "/v1/campaigns/7/rotate-secret", `{"signature_scheme":["ed25519"]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requireError(t, e.do(tc.method, tc.path, key, tc.body), http.StatusUnprocessableEntity, "invalid", "signature_scheme")
		})
	}
	assert.Equal(t, before, e.count("subscriptions"))
	stored := decodeObject(t, e.do(http.MethodGet, "/v1/subscriptions/"+id, key, ""))
	assert.Equal(t, "hmac-sha256", stored["signature_scheme"])
	assert.Nil(t, stored["previous_secret_expires_at"], "a refused change rotates nothing")
	var schemes []string
	require.NoError(t, e.db.SQL().Select(&schemes, `SELECT signature_scheme FROM campaigns ORDER BY created_at`))
	assert.Equal(t, []string{"hmac-sha256"}, schemes)
}

// Today's answers stay as they were for HMAC, with signature_scheme beside them; an ed25519
// subscription answers its public key where an HMAC one answers its secret.
func TestSignatureSchemeAnswers(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	accountID, key := e.account("acme")
	ctx := context.Background()

	hmacSub := e.subscription(key, `{"url":"`+hookURL+`"}`)
	assert.Equal(t, "hmac-sha256", hmacSub["signature_scheme"])
	assert.Regexp(t, secretPattern, hmacSub["secret_key"])
	assert.NotContains(t, hmacSub, "public_key")

	edSub := e.subscription(key, `{"url":"`+hookURL+`","signature_scheme":"ed25519"}`)
	edID := edSub["id"].(string)
	assert.Equal(t, "ed25519", edSub["signature_scheme"])
	assert.NotContains(t, edSub, "secret_key")
	require.Regexp(t, publicKeyPattern, edSub["public_key"])
	stored, err := e.db.FindSubscription(ctx, accountID, edID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stored.SecretKey, signing.SigningKeyPrefix), "it signs with a whsk_ key")
	public, err := signing.PublicKey(stored.SecretKey)
	require.NoError(t, err)
	assert.Equal(t, public, edSub["public_key"], "the public key of the key that signs")
	got := decodeObject(t, e.do(http.MethodGet, "/v1/subscriptions/"+edID, key, ""))
	assert.Equal(t, public, got["public_key"], "the public key is shown on every read")

	// Rotations: HMAC answers exactly what it answered before; ed25519 the public key.
	rec := e.do(http.MethodPost, "/v1/subscriptions/"+hmacSub["id"].(string)+"/rotate-secret", key, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rotated := decodeObject(t, rec)
	assert.Equal(t, []string{"previous_secret_expires_at", "secret_key"}, objectKeys(rotated))
	assert.Regexp(t, secretPattern, rotated["secret_key"])

	rec = e.do(http.MethodPost, "/v1/subscriptions/"+edID+"/rotate-secret", key, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rotated = decodeObject(t, rec)
	assert.Equal(t, []string{"previous_secret_expires_at", "public_key"}, objectKeys(rotated))
	assert.NotEqual(t, public, rotated["public_key"], "a new key pair")
	after, err := e.db.FindSubscription(ctx, accountID, edID)
	require.NoError(t, err)
	newPublic, err := signing.PublicKey(after.SecretKey)
	require.NoError(t, err)
	assert.Equal(t, newPublic, rotated["public_key"])
	assert.Equal(t, []string{after.SecretKey, stored.SecretKey}, after.Secrets(time.Now()), "the old signing key signs beside the new one")

	// A PATCH of the scheme is a rotation, and its answer shows the new key.
	hmacID := hmacSub["id"].(string)
	before, err := e.db.FindSubscription(ctx, accountID, hmacID)
	require.NoError(t, err)
	rec = e.do(http.MethodPatch, "/v1/subscriptions/"+hmacID, key, `{"signature_scheme":"ed25519"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	changed := decodeObject(t, rec)
	assert.Equal(t, "ed25519", changed["signature_scheme"])
	assert.NotContains(t, changed, "secret_key")
	assert.NotNil(t, changed["previous_secret_expires_at"])
	now, err := e.db.FindSubscription(ctx, accountID, hmacID)
	require.NoError(t, err)
	changedPublic, err := signing.PublicKey(now.SecretKey)
	require.NoError(t, err)
	assert.Equal(t, changedPublic, changed["public_key"])
	assert.Equal(t, append([]string{now.SecretKey}, before.Secrets(time.Now())...), now.Secrets(time.Now()),
		"v1a beside the v1 signatures during the grace period")

	rec = e.do(http.MethodPatch, "/v1/subscriptions/"+hmacID, key, `{"signature_scheme":"hmac-sha256"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	back := decodeObject(t, rec)
	assert.Equal(t, "hmac-sha256", back["signature_scheme"])
	assert.NotContains(t, back, "public_key")
	require.Regexp(t, secretPattern, back["secret_key"], "the new secret is shown, as a rotation shows it")
	backStored, err := e.db.FindSubscription(ctx, accountID, hmacID)
	require.NoError(t, err)
	assert.Equal(t, backStored.SecretKey, back["secret_key"])
	// Neither another PATCH nor the same scheme again shows it.
	rec = e.do(http.MethodPatch, "/v1/subscriptions/"+hmacID, key, `{"signature_scheme":"hmac-sha256","description":"x"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	assert.NotContains(t, decodeObject(t, rec), "secret_key")

	// Campaigns: the scheme on create, and a change of it by rotation.
	rec = e.do(http.MethodPost, "/v1/campaigns", key, `{"id":"7","name":"Spring","signature_scheme":"ed25519"}`)
	require.Equal(t, http.StatusCreated, rec.Code, rec.Body.String())
	camp := decodeObject(t, rec)
	assert.Equal(t, "ed25519", camp["signature_scheme"])
	assert.NotContains(t, camp, "secret_key")
	require.Regexp(t, publicKeyPattern, camp["public_key"])
	storedCamp, err := e.db.FindCampaign(ctx, accountID, "7")
	require.NoError(t, err)
	campPublic, err := signing.PublicKey(storedCamp.SecretKey)
	require.NoError(t, err)
	assert.Equal(t, campPublic, camp["public_key"])
	assert.Equal(t, campPublic, decodeObject(t, e.do(http.MethodGet, "/v1/campaigns/7", key, ""))["public_key"])

	rec = e.do(http.MethodPost, "/v1/campaigns/7/rotate-secret", key, "")
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rotated = decodeObject(t, rec)
	assert.Equal(t, []string{"previous_secret_expires_at", "public_key"}, objectKeys(rotated), "without a body it keeps its scheme")
	rec = e.do(http.MethodPost, "/v1/campaigns/7/rotate-secret", key, `{"signature_scheme":"hmac-sha256"}`)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	rotated = decodeObject(t, rec)
	assert.Equal(t, []string{"previous_secret_expires_at", "secret_key"}, objectKeys(rotated))
	assert.Regexp(t, secretPattern, rotated["secret_key"])
	assert.Equal(t, "hmac-sha256", decodeObject(t, e.do(http.MethodGet, "/v1/campaigns/7", key, ""))["signature_scheme"])
	hmacCamp := e.do(http.MethodPost, "/v1/campaigns", key, `{"name":"Autumn"}`)
	require.Equal(t, http.StatusCreated, hmacCamp.Code)
	assert.Equal(t, "hmac-sha256", decodeObject(t, hmacCamp)["signature_scheme"])
	assert.Regexp(t, secretPattern, decodeObject(t, hmacCamp)["secret_key"])
}

// No answer of any route carries a whsk_ signing key: not the current one, not a retired
// one, whatever the route and whichever way the scheme went.
func TestNoAnswerCarriesASigningKey(t *testing.T) {
	t.Parallel()
	e := newAPI(t)
	accountID, key := e.account("acme")
	ctx := context.Background()
	var answers []string
	call := func(want int, method, path, body string) map[string]any {
		t.Helper()
		rec := e.do(method, path, key, body)
		require.Equal(t, want, rec.Code, "%s %s: %s", method, path, rec.Body.String())
		answers = append(answers, method+" "+path+" → "+rec.Body.String())
		var v map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &v)
		return v
	}

	edID := call(http.StatusCreated, http.MethodPost, "/v1/subscriptions", `{"url":"`+hookURL+`","signature_scheme":"ed25519"}`)["id"].(string)
	hmacID := call(http.StatusCreated, http.MethodPost, "/v1/subscriptions", `{"url":"`+hookURL+`"}`)["id"].(string)
	call(http.StatusOK, http.MethodGet, "/v1/subscriptions/"+edID, "")
	call(http.StatusOK, http.MethodGet, "/v1/subscriptions", "")
	call(http.StatusOK, http.MethodPatch, "/v1/subscriptions/"+edID, `{"description":"v1a"}`)
	call(http.StatusOK, http.MethodPost, "/v1/subscriptions/"+edID+"/rotate-secret", "")
	call(http.StatusOK, http.MethodPatch, "/v1/subscriptions/"+hmacID, `{"signature_scheme":"ed25519"}`)
	call(http.StatusOK, http.MethodPost, "/v1/subscriptions/"+hmacID+"/rotate-secret", "")
	call(http.StatusOK, http.MethodPatch, "/v1/subscriptions/"+hmacID, `{"signature_scheme":"hmac-sha256"}`)
	call(http.StatusOK, http.MethodPost, "/v1/subscriptions/"+edID+"/pause", `{"reason":"maintenance"}`)
	call(http.StatusOK, http.MethodPost, "/v1/subscriptions/"+edID+"/resume", "")
	call(http.StatusAccepted, http.MethodPost, "/v1/subscriptions/"+edID+"/test", "")
	call(http.StatusOK, http.MethodGet, "/v1/subscriptions", "")
	call(http.StatusCreated, http.MethodPost, "/v1/campaigns", `{"id":"7","name":"Spring","signature_scheme":"ed25519"}`)
	call(http.StatusOK, http.MethodGet, "/v1/campaigns/7", "")
	call(http.StatusOK, http.MethodGet, "/v1/campaigns", "")
	call(http.StatusOK, http.MethodPost, "/v1/campaigns/7/rotate-secret", "")
	call(http.StatusOK, http.MethodPut, "/v1/campaigns/7/webhooks", `{"webhooks":[{"kind":"default","url":"`+hookURL+`"}]}`)
	call(http.StatusCreated, http.MethodPost, "/v1/campaigns", `{"id":"8","name":"Autumn"}`)
	call(http.StatusOK, http.MethodPost, "/v1/campaigns/8/rotate-secret", `{"signature_scheme":"ed25519"}`)
	call(http.StatusOK, http.MethodGet, "/v1/campaigns", "")
	call(http.StatusOK, http.MethodGet, "/v1/deliveries", "")

	// The signing keys there are, current and retired, to look for by value too.
	var signingKeys []string
	for _, id := range []string{edID, hmacID} {
		sub, err := e.db.FindSubscription(ctx, accountID, id)
		require.NoError(t, err)
		signingKeys = append(signingKeys, sub.Secrets(time.Now())...)
	}
	for _, id := range []string{"7", "8"} {
		c, err := e.db.FindCampaign(ctx, accountID, id)
		require.NoError(t, err)
		signingKeys = append(signingKeys, hookflow.SigningKeys(c.SecretKey, c.RetiredSecrets, time.Now())...)
	}
	signingKeys = slices.DeleteFunc(signingKeys, func(k string) bool { return !strings.HasPrefix(k, signing.SigningKeyPrefix) })
	require.Len(t, signingKeys, 7, "two signing keys each for the subscriptions and campaign 7, one for campaign 8")
	for _, answer := range answers {
		assert.NotContains(t, answer, signing.SigningKeyPrefix)
		for _, k := range signingKeys {
			// The base64 of the key without its prefix, whose tail is the public key.
			seed := strings.TrimPrefix(k, signing.SigningKeyPrefix)[:43]
			assert.NotContains(t, answer, seed)
		}
	}
}
