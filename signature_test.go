package hookflow_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
)

func newKey(t *testing.T, scheme hookflow.SignatureScheme) string {
	t.Helper()
	key, err := signing.NewKey(signing.Scheme(scheme))
	require.NoError(t, err)
	return key
}

// The domain names the schemes as the signing package mints them, and tells a key's
// scheme by the prefix the signing package gives it.
func TestSignatureSchemesAreTheSigningPackages(t *testing.T) {
	t.Parallel()
	for _, scheme := range []hookflow.SignatureScheme{hookflow.SignatureHMACSHA256, hookflow.SignatureEd25519} {
		assert.True(t, hookflow.ValidSignatureScheme(scheme))
		assert.Equal(t, scheme, hookflow.SchemeOfKey(newKey(t, scheme)))
	}
	assert.Equal(t, string(signing.SchemeHMACSHA256), string(hookflow.SignatureHMACSHA256))
	assert.Equal(t, string(signing.SchemeEd25519), string(hookflow.SignatureEd25519))
	for _, bad := range []hookflow.SignatureScheme{"", "v1a", "Ed25519", "hmac"} {
		assert.False(t, hookflow.ValidSignatureScheme(bad), bad)
	}
}

func TestSubscriptionSignatureSchemeIsValidated(t *testing.T) {
	t.Parallel()
	url := "https://example.com/hooks"
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &url})
	assert.Equal(t, hookflow.SignatureHMACSHA256, sub.SignatureScheme, "the default")
	require.NoError(t, sub.Validate())
	for _, bad := range []hookflow.SignatureScheme{"", "rsa", "ED25519"} {
		sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &url, SignatureScheme: &bad})
		err := sub.Validate()
		assert.Equal(t, hookflow.EINVALID, hookflow.ErrorCode(err), bad)
		assert.Equal(t, "signature_scheme", hookflow.ErrorField(err), bad)
	}
	bad := hookflow.SignatureScheme("rsa")
	err := (&hookflow.NewCampaign{Name: "Spring", SignatureScheme: &bad}).Validate()
	assert.Equal(t, "signature_scheme", hookflow.ErrorField(err))
	assert.Equal(t, hookflow.SignatureHMACSHA256, hookflow.NewCampaign{}.Scheme())
}

// A rotation takes the scheme of its new key, so a change of scheme is a rotation like
// any other.
func TestRotationTakesTheSchemeOfTheNewKey(t *testing.T) {
	t.Parallel()
	now := time.Now()
	sub := hookflow.Subscription{SignatureScheme: hookflow.SignatureHMACSHA256, SecretKey: newKey(t, hookflow.SignatureHMACSHA256)}
	old := sub.SecretKey
	sub.Rotate(newKey(t, hookflow.SignatureEd25519), now, time.Hour)
	assert.Equal(t, hookflow.SignatureEd25519, sub.SignatureScheme)
	assert.Equal(t, []string{sub.SecretKey, old}, sub.Secrets(now))
	camp := hookflow.Campaign{SignatureScheme: hookflow.SignatureEd25519, SecretKey: newKey(t, hookflow.SignatureEd25519)}
	camp.Rotate(newKey(t, hookflow.SignatureHMACSHA256), now, time.Hour)
	assert.Equal(t, hookflow.SignatureHMACSHA256, camp.SignatureScheme)
}

// Whatever a caller puts in an answer, a whsk_ signing key never comes out: not as
// itself, not inside a page or a list, not behind a pointer.
func TestJSONNeverCarriesASigningKey(t *testing.T) {
	t.Parallel()
	signingKey, publicKey, err := signing.NewKeyPair()
	require.NoError(t, err)
	secret := newKey(t, hookflow.SignatureHMACSHA256)
	expires := time.Now()
	sub := hookflow.Subscription{ID: "s", SignatureScheme: hookflow.SignatureEd25519, SecretKey: signingKey, PublicKey: publicKey,
		RetiredSecrets: []hookflow.RetiredSecret{{Key: secret, ExpiresAt: expires}}, PreviousSecretExpiresAt: &expires}
	camp := hookflow.Campaign{ID: "7", SignatureScheme: hookflow.SignatureEd25519, SecretKey: signingKey, PublicKey: publicKey}
	for name, v := range map[string]any{
		"subscription":          sub,
		"*subscription":         &sub,
		"subscriptions":         []hookflow.Subscription{sub},
		"campaign":              camp,
		"campaign page":         hookflow.CampaignPage{Data: []hookflow.Campaign{camp}},
		"subscription rotation": sub.KeyRotation(),
		"campaign rotation":     camp.KeyRotation(),
	} {
		raw, err := json.Marshal(v)
		require.NoError(t, err, name)
		assert.NotContains(t, string(raw), signing.SigningKeyPrefix, name)
		assert.NotContains(t, string(raw), "secret_key", name)
		assert.NotContains(t, string(raw), secret, "%s: a retired key is never shown either", name)
		assert.Contains(t, string(raw), `"public_key":"`+publicKey+`"`, name)
	}

	// An HMAC secret is shown where the caller shows it, and there is no public key.
	hmacSub := hookflow.Subscription{ID: "s", SignatureScheme: hookflow.SignatureHMACSHA256, SecretKey: secret}
	var fields map[string]any
	raw, err := json.Marshal(hmacSub)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &fields))
	assert.Equal(t, secret, fields["secret_key"])
	assert.Equal(t, "hmac-sha256", fields["signature_scheme"])
	assert.NotContains(t, fields, "public_key")
	raw, err = json.Marshal(hmacSub.KeyRotation())
	require.NoError(t, err)
	assert.True(t, strings.Contains(string(raw), `"secret_key":"`+secret+`"`), string(raw))
}
