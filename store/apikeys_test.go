package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestAPIKeysCarryTheirScope(t *testing.T) {
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc, err := db.CreateAccount(ctx, "Acme")
	require.NoError(t, err)
	first, err := db.AuthenticateKey(ctx, acc.APIKey)
	require.NoError(t, err)
	assert.Equal(t, hookflow.ScopeFull, first.Scope)
	assert.NotEmpty(t, first.KeyID)

	read, err := db.CreateAPIKey(ctx, acc.ID, hookflow.APIKeyInput{Name: "reports", Scope: hookflow.ScopeRead})
	require.NoError(t, err)
	got, err := db.AuthenticateKey(ctx, read.Key)
	require.NoError(t, err)
	assert.Equal(t, hookflow.Account{ID: acc.ID, Name: "Acme", CreatedAt: acc.CreatedAt.UTC(), KeyID: read.ID, Scope: hookflow.ScopeRead}, got)

	require.NoError(t, db.RevokeAPIKey(ctx, acc.ID, read.ID))
	_, err = db.AuthenticateKey(ctx, read.Key)
	assert.Equal(t, hookflow.EUNAUTHORIZED, hookflow.ErrorCode(err))
}

// Two full keys revoked at the same moment: the account lock makes one of them wait and
// see it is then the last, so the account keeps a full key.
func TestConcurrentRevocationsKeepOneFullKey(t *testing.T) {
	db := storetest.MustOpen(t)
	ctx := context.Background()
	acc, err := db.CreateAccount(ctx, "Acme")
	require.NoError(t, err)
	second, err := db.CreateAPIKey(ctx, acc.ID, hookflow.APIKeyInput{Name: "second", Scope: hookflow.ScopeFull})
	require.NoError(t, err)
	keys, err := db.ListAPIKeys(ctx, acc.ID)
	require.NoError(t, err)
	require.Len(t, keys, 2)

	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, id := range []string{keys[0].ID, second.ID} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.RevokeAPIKey(ctx, acc.ID, id)
		}()
	}
	wg.Wait()
	codes := []string{hookflow.ErrorCode(errs[0]), hookflow.ErrorCode(errs[1])}
	assert.ElementsMatch(t, []string{"", hookflow.ECONFLICT}, codes)
	left, err := db.ListAPIKeys(ctx, acc.ID)
	require.NoError(t, err)
	assert.Len(t, left, 1)
}
