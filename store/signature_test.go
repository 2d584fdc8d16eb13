package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/signing"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

func mintKey(t *testing.T, scheme hookflow.SignatureScheme) string {
	t.Helper()
	key, err := signing.NewKey(signing.Scheme(scheme))
	require.NoError(t, err)
	return key
}

// newSubscriptionWithKey stores a valid subscription signing with key.
func newSubscriptionWithKey(t *testing.T, db *store.DB, accountID, key string) hookflow.Subscription {
	t.Helper()
	scheme := hookflow.SchemeOfKey(key)
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: ptr("http://127.0.0.1:9/hook"), SignatureScheme: &scheme})
	require.NoError(t, sub.Validate())
	sub.SecretKey = key
	require.NoError(t, db.CreateSubscription(context.Background(), accountID, &sub))
	return sub
}

func storedSchemes(t *testing.T, db *store.DB) map[string]string {
	t.Helper()
	var rows []struct {
		ID     string `db:"id"`
		Scheme string `db:"signature_scheme"`
	}
	require.NoError(t, db.SQL().Select(&rows, `SELECT id::text, signature_scheme FROM subscriptions
		UNION ALL SELECT public_id, signature_scheme FROM campaigns`))
	out := map[string]string{}
	for _, r := range rows {
		out[r.ID] = r.Scheme
	}
	return out
}

// Both schemes come back as they went in, with the public key of an ed25519 key on every
// way out of the store, and the key that signs is the one stored.
func TestSignatureSchemesRoundTrip(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	hmacKey, edKey := mintKey(t, hookflow.SignatureHMACSHA256), mintKey(t, hookflow.SignatureEd25519)
	publicKey, err := signing.PublicKey(edKey)
	require.NoError(t, err)

	hmacSub := newSubscriptionWithKey(t, db, acc.ID, hmacKey)
	edSub := newSubscriptionWithKey(t, db, acc.ID, edKey)
	assert.Equal(t, hookflow.SignatureHMACSHA256, hmacSub.SignatureScheme)
	assert.Empty(t, hmacSub.PublicKey)
	assert.Equal(t, hookflow.SignatureEd25519, edSub.SignatureScheme)
	assert.Equal(t, publicKey, edSub.PublicKey, "the created subscription has its public key")

	found, err := db.FindSubscription(ctx, acc.ID, edSub.ID)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, found.SignatureScheme)
	assert.Equal(t, edKey, found.SecretKey)
	assert.Equal(t, publicKey, found.PublicKey)
	listed, err := db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, listed, 2)
	assert.Equal(t, hookflow.SignatureHMACSHA256, listed[0].SignatureScheme)
	assert.Equal(t, hmacKey, listed[0].SecretKey)
	assert.Empty(t, listed[0].PublicKey)
	assert.Equal(t, publicKey, listed[1].PublicKey)
	updated, err := db.UpdateSubscription(ctx, acc.ID, edSub.ID, hookflow.SubscriptionUpdate{Description: ptr("v1a")}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)
	assert.Equal(t, edKey, updated.SecretKey, "an update that keeps the scheme keeps the key")
	assert.Equal(t, publicKey, updated.PublicKey)
	assert.Empty(t, updated.RetiredSecrets)

	d, err := db.CreateTestDelivery(ctx, acc.ID, edSub.ID)
	require.NoError(t, err)
	req, err := db.SendRequest(ctx, d.Key)
	require.NoError(t, err)
	assert.Equal(t, []string{edKey}, req.Secrets)

	campEd, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, edKey)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, campEd.SignatureScheme)
	assert.Equal(t, publicKey, campEd.PublicKey)
	campHMAC, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Autumn"}, hmacKey)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureHMACSHA256, campHMAC.SignatureScheme)
	c, err := db.FindCampaign(ctx, acc.ID, campEd.ID)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, c.SignatureScheme)
	assert.Equal(t, edKey, c.SecretKey)
	assert.Equal(t, publicKey, c.PublicKey)
	page, err := db.ListCampaigns(ctx, acc.ID, hookflow.CampaignFilter{})
	require.NoError(t, err)
	require.Len(t, page.Data, 2)
	assert.Equal(t, publicKey, page.Data[0].PublicKey)
	assert.Equal(t, hookflow.SignatureHMACSHA256, page.Data[1].SignatureScheme)
	assert.Empty(t, page.Data[1].PublicKey)

	assert.Equal(t, map[string]string{hmacSub.ID: "hmac-sha256", edSub.ID: "ed25519", campEd.ID: "ed25519", campHMAC.ID: "hmac-sha256"},
		storedSchemes(t, db))
	raw := rawSecrets(t, db)
	assert.NotContains(t, raw, signing.SigningKeyPrefix, "a signing key is sealed like a secret")
	assert.NotContains(t, raw, signing.SecretPrefix)
}

// A change of scheme by an update is a rotation: a key of the new scheme signs first and
// the replaced one beside it for the grace period, whichever way the change goes; and a
// rotation takes the scheme of its new key.
func TestSignatureSchemeChangeIsARotation(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	changedAt := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return changedAt }
	acc := newAccount(t, db, "acme")
	sub := newSubscriptionWithKey(t, db, acc.ID, mintKey(t, hookflow.SignatureHMACSHA256))
	hmacKey := sub.SecretKey

	toEd := hookflow.SignatureEd25519
	changed, err := db.UpdateSubscription(ctx, acc.ID, sub.ID, hookflow.SubscriptionUpdate{SignatureScheme: &toEd}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, changed.SignatureScheme)
	require.True(t, strings.HasPrefix(changed.SecretKey, signing.SigningKeyPrefix), "a new key of the new scheme")
	publicKey, err := signing.PublicKey(changed.SecretKey)
	require.NoError(t, err)
	assert.Equal(t, publicKey, changed.PublicKey)
	require.NotNil(t, changed.PreviousSecretExpiresAt)
	assert.True(t, changed.PreviousSecretExpiresAt.Equal(changedAt.Add(hookflow.SecretRotationGrace)))

	stored, err := db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, stored.SignatureScheme)
	assert.Equal(t, []string{changed.SecretKey, hmacKey}, stored.Secrets(changedAt), "both sign during the grace period")
	assert.Equal(t, []string{changed.SecretKey}, stored.Secrets(changedAt.Add(hookflow.SecretRotationGrace)))
	d, err := db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	req, err := db.SendRequest(ctx, d.Key)
	require.NoError(t, err)
	assert.Equal(t, []string{changed.SecretKey, hmacKey}, req.Secrets)

	// The same scheme again changes nothing.
	again, err := db.UpdateSubscription(ctx, acc.ID, sub.ID, hookflow.SubscriptionUpdate{SignatureScheme: &toEd}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)
	assert.Equal(t, changed.SecretKey, again.SecretKey)
	assert.Len(t, again.RetiredSecrets, 1)

	// A rejected update mints nothing.
	bad := hookflow.SignatureScheme("rsa")
	_, err = db.UpdateSubscription(ctx, acc.ID, sub.ID, hookflow.SubscriptionUpdate{SignatureScheme: &bad}, (*hookflow.Subscription).Validate)
	assert.Equal(t, "signature_scheme", hookflow.ErrorField(err))
	assert.Equal(t, map[string]string{sub.ID: "ed25519"}, storedSchemes(t, db))

	// Rotating an ed25519 subscription keeps it ed25519; both signing keys sign.
	secondKey := mintKey(t, hookflow.SignatureEd25519)
	rotated, err := db.RotateSecret(ctx, acc.ID, sub.ID, secondKey, hookflow.SecretRotationGrace)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, rotated.SignatureScheme)
	secondPublic, err := signing.PublicKey(secondKey)
	require.NoError(t, err)
	assert.Equal(t, secondPublic, rotated.PublicKey)
	stored, err = db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{secondKey, changed.SecretKey, hmacKey}, stored.Secrets(changedAt))

	// And back to HMAC.
	toHMAC := hookflow.SignatureHMACSHA256
	back, err := db.UpdateSubscription(ctx, acc.ID, sub.ID, hookflow.SubscriptionUpdate{SignatureScheme: &toHMAC}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureHMACSHA256, back.SignatureScheme)
	assert.True(t, strings.HasPrefix(back.SecretKey, signing.SecretPrefix))
	assert.Empty(t, back.PublicKey)
	stored, err = db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{back.SecretKey, secondKey, changed.SecretKey, hmacKey}, stored.Secrets(changedAt))
	assert.Equal(t, map[string]string{sub.ID: "hmac-sha256"}, storedSchemes(t, db))

	// A campaign changes scheme by its rotation.
	camp, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, hmacKey)
	require.NoError(t, err)
	rotatedCamp, err := db.RotateCampaignSecret(ctx, acc.ID, camp.ID, secondKey, hookflow.SecretRotationGrace)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, rotatedCamp.SignatureScheme)
	assert.Equal(t, secondPublic, rotatedCamp.PublicKey)
	foundCamp, err := db.FindCampaign(ctx, acc.ID, camp.ID)
	require.NoError(t, err)
	assert.Equal(t, hookflow.SignatureEd25519, foundCamp.SignatureScheme)
	assert.Equal(t, []string{secondKey, hmacKey}, hookflow.SigningKeys(foundCamp.SecretKey, foundCamp.RetiredSecrets, changedAt))

	raw := rawSecrets(t, db)
	assert.NotContains(t, raw, signing.SigningKeyPrefix)
	assert.NotContains(t, raw, signing.SecretPrefix)
}
