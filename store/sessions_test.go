package store_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestSessionLifecycle(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")

	token, csrf, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, TTL: time.Hour})
	require.NoError(t, err)
	require.NotEmpty(t, token)
	require.NotEmpty(t, csrf)
	assert.NotEqual(t, token, csrf)

	got, err := db.Session(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, acc.ID, got.Account.ID)
	assert.Equal(t, "acme", got.Account.Name)
	assert.Equal(t, csrf, got.CSRF)

	// The table keeps a hash, never the token itself.
	var stored int
	require.NoError(t, db.SQL().Get(&stored, `SELECT count(*) FROM sessions WHERE id = $1`, token))
	assert.Zero(t, stored)

	require.NoError(t, db.DeleteSession(ctx, token))
	_, err = db.Session(ctx, token)
	requireCode(t, err, hookflow.EUNAUTHORIZED)
	require.NoError(t, db.DeleteSession(ctx, token), "signing out twice is harmless")
}

func TestSessionUnknownAndEmptyTokens(t *testing.T) {
	db := storetest.MustOpen(t)
	for _, token := range []string{"", "not-a-token", "x'; DROP TABLE sessions; --"} {
		_, err := db.Session(ctx, token)
		requireCode(t, err, hookflow.EUNAUTHORIZED)
	}
}

func TestSessionExpires(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return now }

	token, _, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, TTL: 12 * time.Hour})
	require.NoError(t, err)
	now = now.Add(12*time.Hour - time.Second)
	_, err = db.Session(ctx, token)
	require.NoError(t, err, "a session is valid until its ttl ends")

	now = now.Add(time.Second)
	_, err = db.Session(ctx, token)
	requireCode(t, err, hookflow.EUNAUTHORIZED)

	// The next sign-in sweeps the expired row away.
	_, _, err = db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, TTL: time.Hour})
	require.NoError(t, err)
	var left int
	require.NoError(t, db.SQL().Get(&left, `SELECT count(*) FROM sessions`))
	assert.Equal(t, 1, left)
}

func TestSessionsAreDeletedWithTheirAccount(t *testing.T) {
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	token, _, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, TTL: time.Hour})
	require.NoError(t, err)
	_, err = db.SQL().Exec(`DELETE FROM accounts WHERE id = $1`, acc.ID)
	require.NoError(t, err)
	_, err = db.Session(ctx, token)
	requireCode(t, err, hookflow.EUNAUTHORIZED)
}
