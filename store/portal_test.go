package store_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/store/storetest"
)

func TestPortalLinkOpensOnce(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	in := hookflow.PortalLinkInput{AccountID: acc.ID, ReadOnly: true, BrandName: "Referral Cloud",
		LogoURL: "https://cdn.example.com/logo.svg"}
	link, err := db.CreatePortalLink(ctx, in, 10*time.Minute)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(link.Token, "hfp_"), link.Token)
	assert.WithinDuration(t, time.Now().Add(10*time.Minute), link.ExpiresAt, time.Minute)

	// The table keeps a hash, never the token itself.
	var stored int
	require.NoError(t, db.SQL().Get(&stored, `SELECT count(*) FROM portal_links WHERE id = $1`, link.Token))
	assert.Zero(t, stored)

	p, err := db.RedeemPortalLink(ctx, link.Token)
	require.NoError(t, err)
	assert.Equal(t, hookflow.Portal{AccountID: acc.ID, ReadOnly: true, BrandName: "Referral Cloud",
		LogoURL: "https://cdn.example.com/logo.svg"}, p)

	_, err = db.RedeemPortalLink(ctx, link.Token)
	requireCode(t, err, hookflow.ENOTFOUND)
	for _, token := range []string{"", "hfp_unknown", "x'; DROP TABLE portal_links; --"} {
		_, err = db.RedeemPortalLink(ctx, token)
		requireCode(t, err, hookflow.ENOTFOUND)
	}
}

func TestPortalLinkExpires(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	db.Now = func() time.Time { return now }

	early, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID}, 10*time.Minute)
	require.NoError(t, err)
	late, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID}, 10*time.Minute)
	require.NoError(t, err)
	assert.Equal(t, now.Add(10*time.Minute), early.ExpiresAt)

	now = now.Add(10*time.Minute - time.Second)
	_, err = db.RedeemPortalLink(ctx, early.Token)
	require.NoError(t, err, "a link opens until its ttl ends")

	now = now.Add(time.Second)
	_, err = db.RedeemPortalLink(ctx, late.Token)
	requireCode(t, err, hookflow.ENOTFOUND)

	// The next link minted sweeps the expired ones away.
	_, err = db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID}, time.Minute)
	require.NoError(t, err)
	var left int
	require.NoError(t, db.SQL().Get(&left, `SELECT count(*) FROM portal_links`))
	assert.Equal(t, 1, left)
}

func TestPortalLinkRedeemedAtOnceOpensOnce(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	link, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID}, time.Minute)
	require.NoError(t, err)

	const openers = 40
	var (
		wg       sync.WaitGroup
		start    = make(chan struct{})
		mu       sync.Mutex
		opened   int
		refused  int
		failures []error
	)
	for range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := db.RedeemPortalLink(ctx, link.Token)
			mu.Lock()
			defer mu.Unlock()
			switch hookflow.ErrorCode(err) {
			case "":
				opened++
			case hookflow.ENOTFOUND:
				refused++
			default:
				failures = append(failures, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	require.Empty(t, failures)
	assert.Equal(t, 1, opened, "exactly one opener wins")
	assert.Equal(t, openers-1, refused)
}

func TestPortalLinkNeedsAnAccountAndValidBranding(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	for _, id := range []string{uuid.NewString(), "not-a-uuid", ""} {
		_, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: id}, time.Minute)
		requireCode(t, err, hookflow.ENOTFOUND)
	}
	for _, tc := range []struct {
		field string
		in    hookflow.PortalLinkInput
	}{
		{"brand_name", hookflow.PortalLinkInput{BrandName: strings.Repeat("b", 101)}},
		{"brand_name", hookflow.PortalLinkInput{BrandName: "line\nbreak"}},
		{"logo_url", hookflow.PortalLinkInput{LogoURL: "http://cdn.example.com/logo.png"}},
		{"logo_url", hookflow.PortalLinkInput{LogoURL: "https://cdn.example.com;script-src *"}},
		{"logo_url", hookflow.PortalLinkInput{LogoURL: "https://" + strings.Repeat("a", 2048) + ".example.com/"}},
	} {
		tc.in.AccountID = acc.ID
		_, err := db.CreatePortalLink(ctx, tc.in, time.Minute)
		requireCode(t, err, hookflow.EINVALID)
		assert.Equal(t, tc.field, hookflow.ErrorField(err), "%+v", tc.in)
	}
	_, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID, BrandName: strings.Repeat("é", 100)}, time.Minute)
	require.NoError(t, err, "the limit counts characters, not bytes")
}

func TestPortalLinksAreDeletedWithTheirAccount(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	link, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID}, time.Minute)
	require.NoError(t, err)
	_, err = db.SQL().Exec(`DELETE FROM accounts WHERE id = $1`, acc.ID)
	require.NoError(t, err)
	_, err = db.RedeemPortalLink(ctx, link.Token)
	requireCode(t, err, hookflow.ENOTFOUND)
}

func TestPortalSessionKeepsItsBranding(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	token, csrf, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, Portal: true, ReadOnly: true,
		BrandName: "Referral Cloud", LogoURL: "https://cdn.example.com/logo.svg", TTL: time.Hour})
	require.NoError(t, err)
	s, err := db.Session(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, hookflow.Session{Account: hookflow.Account{ID: acc.ID, Name: "acme", CreatedAt: acc.CreatedAt.UTC().Truncate(time.Microsecond)},
		CSRF: csrf, ReadOnly: true, Portal: true, BrandName: "Referral Cloud", LogoURL: "https://cdn.example.com/logo.svg"}, s)
}

func TestSessionEndsWhenItsKeyIsRevoked(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc := newAccount(t, db, "acme")
	signedIn, err := db.AuthenticateKey(ctx, acc.APIKey)
	require.NoError(t, err)
	require.NotEmpty(t, signedIn.KeyID)
	token, _, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, APIKeyID: signedIn.KeyID, TTL: time.Hour})
	require.NoError(t, err)
	portal, _, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: acc.ID, Portal: true, TTL: time.Hour})
	require.NoError(t, err)

	s, err := db.Session(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, signedIn.KeyID, s.Account.KeyID)
	assert.Equal(t, hookflow.ScopeFull, s.Account.Scope)
	assert.False(t, s.Portal)

	_, err = db.SQL().Exec(`UPDATE api_keys SET revoked_at = now() WHERE id = $1`, signedIn.KeyID)
	require.NoError(t, err)
	_, err = db.Session(ctx, token)
	requireCode(t, err, hookflow.EUNAUTHORIZED)
	_, err = db.Session(ctx, portal)
	require.NoError(t, err, "a session no key opened does not end with a key")
}

// A link minted with a key is the key's: revoking the key ends the links it minted that
// are not opened yet, and the sessions those opened.
func TestRevokingAKeyEndsItsPortalLinksAndSessions(t *testing.T) {
	t.Parallel()
	db := storetest.MustOpen(t)
	acc, err := db.CreateAccount(ctx, "acme")
	require.NoError(t, err)
	key, err := db.CreateAPIKey(ctx, acc.ID, hookflow.APIKeyInput{Name: "portal minter", Scope: hookflow.ScopeFull})
	require.NoError(t, err)
	unopened, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID, APIKeyID: key.ID}, time.Hour)
	require.NoError(t, err)
	opened, err := db.CreatePortalLink(ctx, hookflow.PortalLinkInput{AccountID: acc.ID, APIKeyID: key.ID}, time.Hour)
	require.NoError(t, err)
	p, err := db.RedeemPortalLink(ctx, opened.Token)
	require.NoError(t, err)
	assert.Equal(t, key.ID, p.APIKeyID)
	token, _, err := db.CreateSession(ctx, hookflow.SessionInput{AccountID: p.AccountID, APIKeyID: p.APIKeyID, Portal: true, TTL: time.Hour})
	require.NoError(t, err)
	_, err = db.Session(ctx, token)
	require.NoError(t, err)

	require.NoError(t, db.RevokeAPIKey(ctx, acc.ID, key.ID))
	_, err = db.RedeemPortalLink(ctx, unopened.Token)
	assert.Equal(t, hookflow.ENOTFOUND, hookflow.ErrorCode(err), "an unopened link of a revoked key opens nothing")
	_, err = db.Session(ctx, token)
	assert.Equal(t, hookflow.EUNAUTHORIZED, hookflow.ErrorCode(err), "the session it opened has ended")
}
