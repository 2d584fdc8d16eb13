package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/keyring"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// rawSecrets is everything the secret columns hold, as a dump of the database shows them.
func rawSecrets(t *testing.T, db *store.DB) string {
	t.Helper()
	var dump []string
	require.NoError(t, db.SQL().SelectContext(context.Background(), &dump, `
		SELECT secret_key || ' ' || retired_secrets::text || ' ' || COALESCE(previous_secret_key, '') FROM subscriptions
		UNION ALL SELECT secret_key || ' ' || retired_secrets::text FROM campaigns`))
	return strings.Join(dump, "\n")
}

func TestSecretsAreSealedAtRest(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	require.True(t, strings.HasPrefix(sub.SecretKey, "whsec_"))
	rotated, err := db.RotateSecret(ctx, acc.ID, sub.ID, "whsec_"+strings.Repeat("B", 44), 24*time.Hour)
	require.NoError(t, err)
	camp, err := db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, "whsec_"+strings.Repeat("C", 44))
	require.NoError(t, err)
	_, err = db.RotateCampaignSecret(ctx, acc.ID, camp.ID, "whsec_"+strings.Repeat("D", 44), 24*time.Hour)
	require.NoError(t, err)

	raw := rawSecrets(t, db)
	assert.NotContains(t, raw, "whsec_", "no usable secret in the columns")
	assert.Contains(t, raw, "sealed:v1:"+storetest.TestKeyring.CurrentID()+":")

	// Every way out of the store opens them again.
	found, err := db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, rotated.SecretKey, found.SecretKey)
	require.Len(t, found.RetiredSecrets, 1)
	assert.Equal(t, sub.SecretKey, found.RetiredSecrets[0].Key)
	listed, err := db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)
	assert.Equal(t, rotated.SecretKey, listed[0].SecretKey)
	c, err := db.FindCampaign(ctx, acc.ID, camp.ID)
	require.NoError(t, err)
	assert.Equal(t, "whsec_"+strings.Repeat("D", 44), c.SecretKey)
	assert.Equal(t, "whsec_"+strings.Repeat("C", 44), c.RetiredSecrets[0].Key)
	d, err := db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	req, err := db.SendRequest(ctx, d.Key)
	require.NoError(t, err)
	assert.Equal(t, []string{rotated.SecretKey, sub.SecretKey}, req.Secrets)
}

// A database of an earlier build holds plaintext; the pass a start makes seals it, and a
// later pass after a new key is put first re-encrypts everything under the new key.
func TestSealSecretsEncryptsPlaintextAndRotatesKeys(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc := newAccount(t, db, "acme")
	db.Secrets = nil // an earlier build: stored as they are
	sub := newSubscription(t, db, acc.ID, hookflow.SubscriptionUpdate{})
	_, err := db.RotateSecret(ctx, acc.ID, sub.ID, "whsec_"+strings.Repeat("B", 44), 24*time.Hour)
	require.NoError(t, err)
	_, err = db.SQL().ExecContext(ctx, `UPDATE subscriptions SET previous_secret_key = $1`, sub.SecretKey)
	require.NoError(t, err)
	_, err = db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, "whsec_"+strings.Repeat("C", 44))
	require.NoError(t, err)
	require.Contains(t, rawSecrets(t, db), "whsec_")
	require.NoError(t, db.CheckSecrets(ctx), "plaintext needs no key")

	oldKey := keyring.Generate()
	first, err := keyring.Parse(oldKey)
	require.NoError(t, err)
	db.Secrets = first
	n, err := db.SealSecrets(ctx, false)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	assert.NotContains(t, rawSecrets(t, db), "whsec_")
	n, err = db.SealSecrets(ctx, false)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left in plaintext")

	// Started without the key, or without the key the values were sealed with: refused.
	db.Secrets = nil
	assert.ErrorContains(t, db.CheckSecrets(ctx), "set HOOKFLOW_SECRETS_KEY")
	newKey := keyring.Generate()
	db.Secrets, err = keyring.Parse(newKey)
	require.NoError(t, err)
	assert.ErrorContains(t, db.CheckSecrets(ctx), "key id "+first.CurrentID())

	db.Secrets, err = keyring.Parse(newKey + "," + oldKey)
	require.NoError(t, err)
	require.NoError(t, db.CheckSecrets(ctx))
	n, err = db.SealSecrets(ctx, true)
	require.NoError(t, err)
	assert.Equal(t, 2, n)
	raw := rawSecrets(t, db)
	assert.NotContains(t, raw, first.CurrentID())
	assert.Contains(t, raw, db.Secrets.CurrentID())

	// The old key can leave the ring now.
	db.Secrets, err = keyring.Parse(newKey)
	require.NoError(t, err)
	require.NoError(t, db.CheckSecrets(ctx))
	found, err := db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, "whsec_"+strings.Repeat("B", 44), found.SecretKey)
	assert.Equal(t, sub.SecretKey, found.RetiredSecrets[0].Key)
}
