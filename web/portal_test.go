package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
)

const (
	testAncestors = "https://app.example.com https://*.partner.example"
	testLogo      = "https://cdn.example.com/brand/logo.svg"
)

// newPortalDashboard is a dashboard that portals of app.example.com may embed.
func newPortalDashboard(t *testing.T) *dashboardEnv {
	t.Helper()
	return newDashboard(t, func(d *Deps) {
		d.Portals = d.Sessions.(hookflow.PortalService)
		d.PortalSessionTTL = time.Hour
		d.PortalFrameAncestors = strings.Fields(testAncestors)
	})
}

// portalLink mints a link to the account and returns its path.
func (e *dashboardEnv) portalLink(in hookflow.PortalLinkInput) string {
	e.t.Helper()
	link, err := e.db.CreatePortalLink(context.Background(), in, 10*time.Minute)
	require.NoError(e.t, err)
	return "/portal/" + link.Token
}

// openPortal opens a link and follows it home, as a browser does.
func (b *browser) openPortal(path string, headers ...string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	p := b.do(req)
	require.Equal(b.t, http.StatusSeeOther, p.status, p.body)
	require.Equal(b.t, "/", p.header.Get("Location"))
	return p
}

var (
	postForm   = regexp.MustCompile(`<form method="post" action="([^"]*)"`)
	actionLink = regexp.MustCompile(`href="[^"]*/(new|edit|delete)"`)
)

// actions lists the changes a page offers: its POST forms but signing out, and its links
// to the forms that create, edit and delete.
func actions(body string) []string {
	var found []string
	for _, m := range postForm.FindAllStringSubmatch(body, -1) {
		if m[1] != "/logout" {
			found = append(found, "form "+m[1])
		}
	}
	for _, m := range actionLink.FindAllString(body, -1) {
		found = append(found, "link "+m)
	}
	return found
}

func TestPortalLinkOpensTheAccountsDashboardOnce(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	e.subscription(acc.ID, "https://example.com/hooks")
	link := e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID, BrandName: "Referral Cloud", LogoURL: testLogo})

	b := e.browser()
	entry := b.openPortal(link)
	assert.Equal(t, "no-referrer", entry.header.Get("Referrer-Policy"), "the token is not told to anyone")
	assert.Equal(t, "no-store", entry.header.Get("Cache-Control"))
	assert.Equal(t, pagePolicy("'self' data: https://cdn.example.com", testAncestors), entry.header.Get("Content-Security-Policy"))
	cookie := findCookie(entry.header, portalCookie)
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite, "plain HTTP cannot carry a SameSite=None cookie")
	assert.False(t, cookie.Secure)
	assert.Zero(t, cookie.MaxAge, "the cookie lasts as long as the browser; the session ends on the server")
	assert.Nil(t, findCookie(entry.header, sessionCookie), "a portal is not a sign-in")

	home := b.get("/")
	require.Equal(t, http.StatusOK, home.status, home.body)
	assert.Contains(t, home.body, "https://example.com/hooks")
	assert.Contains(t, home.body, "Referral Cloud")
	assert.Contains(t, home.body, `<img class="brand-logo" src="`+testLogo+`"`)
	assert.Contains(t, home.body, "acme")
	assert.Equal(t, pagePolicy("'self' data: https://cdn.example.com", testAncestors), home.header.Get("Content-Security-Policy"))
	assert.Empty(t, home.header.Get("X-Frame-Options"), "frame-ancestors names who may frame the portal")
	assert.Equal(t, "same-origin", home.header.Get("Referrer-Policy"), "forms need their Origin")

	// Once only: in another browser, and in this one.
	again := e.browser().get(link)
	assert.Equal(t, http.StatusNotFound, again.status)
	assert.Contains(t, again.body, "This link cannot be opened")
	assert.Nil(t, findCookie(again.header, portalCookie))
	assert.Contains(t, again.header.Get("Content-Security-Policy"), "frame-ancestors "+testAncestors,
		"the page shows inside the frame that tried the link")
	assert.NotContains(t, again.body, `name="api_key"`, "a portal never asks for a key")
	assert.Equal(t, http.StatusNotFound, b.get(link).status)
	assert.Equal(t, http.StatusOK, b.get("/").status, "a refused link leaves the open portal as it was")

	for _, bad := range []string{"/portal/hfp_unknown", "/portal/x"} {
		p := e.browser().get(bad)
		assert.Equal(t, http.StatusNotFound, p.status, bad)
		assert.Contains(t, p.body, "This link cannot be opened")
	}
}

func TestPortalLinkExpires(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	now := time.Now()
	e.db.Now = func() time.Time { return now }
	link := e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID})
	now = now.Add(10 * time.Minute)
	p := e.browser().get(link)
	assert.Equal(t, http.StatusNotFound, p.status)
	assert.Contains(t, p.body, "has expired")
}

func TestPortalCookieWorksInAFrameOverHTTPS(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	entry := e.browser().openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID}), "X-Forwarded-Proto", "https")
	var raw string
	for _, line := range entry.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, portalCookie+"=") {
			raw = line
		}
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"} {
		assert.Contains(t, raw, attr)
	}
	assert.NotContains(t, raw, "Max-Age")
}

func TestReadOnlyPortalShowsNoActionAndRefusesEveryChange(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	ctx := context.Background()
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	d, err := e.db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	campaign, err := e.db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, sub.SecretKey)
	require.NoError(t, err)
	campaign, err = e.db.SetCampaignWebhooks(ctx, acc.ID, campaign.ID, []hookflow.CampaignWebhook{{Kind: hookflow.WebhookDefault, URL: "https://example.com/legacy"}})
	require.NoError(t, err)
	_, err = e.db.CreateCampaignTestDelivery(ctx, acc.ID, campaign.ID, campaign.Webhooks[0].ID)
	require.NoError(t, err)

	// The same pages with a full session offer every action: the check below sees them.
	full := e.browser()
	full.signIn(acc.APIKey)
	pages := []string{"/", "/subscriptions/" + sub.ID, "/deliveries/" + fmt.Sprint(d.ID), "/campaigns", campaignPath(campaign.ID), "/fulfilments"}
	for _, path := range pages[:5] {
		assert.NotEmpty(t, actions(full.get(path).body), "a full session's %s offers actions", path)
	}

	b := e.browser()
	b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID, ReadOnly: true, BrandName: "Referral Cloud"}))
	for _, path := range pages {
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.status, path)
		assert.Empty(t, actions(p.body), "%s offers an action to a read-only session", path)
		assert.Contains(t, p.body, `id="read-only"`, path)
		assert.NotContains(t, p.body, sub.SecretKey, "%s shows a signing secret to a read-only session", path)
	}
	assert.Contains(t, b.get(campaignPath(campaign.ID)).body, "https://example.com/legacy", "the URLs are listed, not editable")

	// A forged form with the session's own token changes nothing.
	require.NotEmpty(t, b.csrf)
	before, err := e.db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
	require.NoError(t, err)
	for _, path := range []string{"/subscriptions/" + sub.ID + "/test", "/subscriptions/" + sub.ID + "/delete",
		"/subscriptions/" + sub.ID + "/pause", "/subscriptions/" + sub.ID + "/rotate-secret", "/deliveries/" + fmt.Sprint(d.ID) + "/retry",
		"/subscriptions", campaignPath(campaign.ID) + "/delete", "/campaigns"} {
		p := b.post(path, url.Values{"url": {"https://example.com/new"}, "name": {"New"}}, "Origin", e.url)
		assert.Equal(t, http.StatusForbidden, p.status, path)
		assert.Contains(t, p.body, "Read-only", path)
	}
	for _, path := range []string{"/subscriptions/new", "/subscriptions/" + sub.ID + "/edit", "/subscriptions/" + sub.ID + "/delete",
		campaignPath(campaign.ID) + "/delete"} {
		assert.Equal(t, http.StatusForbidden, b.get(path).status, path)
	}
	after, err := e.db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{})
	require.NoError(t, err)
	assert.Len(t, after.Data, len(before.Data))
	stored, err := e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, sub.SecretKey, stored.SecretKey)
	assert.False(t, stored.Paused)
	subs, err := e.db.ListSubscriptions(ctx, acc.ID)
	require.NoError(t, err)
	assert.Len(t, subs, 1)
	_, err = e.db.FindCampaign(ctx, acc.ID, campaign.ID)
	require.NoError(t, err)

	// Signing out is the one thing it may do.
	out := b.post("/logout", nil, "Origin", e.url)
	require.Equal(t, http.StatusOK, out.status, out.body)
	assert.Contains(t, out.body, "Signed out")
	assert.Contains(t, out.body, "Referral Cloud")
	assert.NotContains(t, out.body, `name="api_key"`)
	assert.NotContains(t, out.body, "acme", "the page after signing out shows no account")
	cookie := findCookie(out.header, portalCookie)
	require.NotNil(t, cookie)
	assert.Negative(t, cookie.MaxAge)
	assert.Equal(t, http.StatusSeeOther, b.get("/").status)
}

func TestPortalFormsKeepTheirCSRFChecks(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID}))
	page := b.get("/subscriptions/" + sub.ID)
	require.NotEmpty(t, actions(page.body), "a portal that is not read-only offers actions")

	assert.Equal(t, http.StatusForbidden, b.post("/subscriptions/"+sub.ID+"/pause", nil, "Origin", "https://app.example.com").status,
		"the site that embeds the portal cannot post its forms")
	assert.Equal(t, http.StatusForbidden, b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"csrf": {"made-up"}}).status)
	stored, err := e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	require.False(t, stored.Paused)

	p := b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {"maintenance"}}, "Origin", e.url)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	stored, err = e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	assert.True(t, stored.Paused)
}

func TestEndedPortalSessionSaysSoInsteadOfAskingForAKey(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	now := time.Now()
	e.db.Now = func() time.Time { return now }
	b := e.browser()
	b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID}))
	require.Equal(t, http.StatusOK, b.get("/").status)

	now = now.Add(time.Hour)
	for _, path := range []string{"/", "/subscriptions/abc"} {
		p := b.get(path)
		assert.Equal(t, http.StatusUnauthorized, p.status, path)
		assert.Contains(t, p.body, "This session has ended")
		assert.NotContains(t, p.body, `name="api_key"`)
		assert.Contains(t, p.header.Get("Content-Security-Policy"), "frame-ancestors "+testAncestors)
	}

	// Without any cookie, a page asked for inside a frame can only be a portal's.
	req, err := http.NewRequest(http.MethodGet, e.url+"/", nil)
	require.NoError(t, err)
	req.Header.Set("Sec-Fetch-Dest", "iframe")
	p := e.browser().do(req)
	assert.Equal(t, http.StatusUnauthorized, p.status)
	assert.Contains(t, p.body, "This session has ended")
	// At the top level, the same request is sent to sign in.
	assert.Equal(t, "/login", e.browser().get("/").header.Get("Location"))
}

func TestSignInWithAKeyLeavesThePortal(t *testing.T) {
	e := newPortalDashboard(t)
	portalAccount := e.account("portal account")
	keyAccount := e.account("key account")
	b := e.browser()
	entry := b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: portalAccount.ID}))
	portalToken := findCookie(entry.header, portalCookie).Value
	require.Contains(t, b.get("/").body, "portal account")

	b.signIn(keyAccount.APIKey)
	home := b.get("/")
	assert.Contains(t, home.body, "key account")
	assert.NotContains(t, home.body, "portal account")
	_, err := e.db.Session(context.Background(), portalToken)
	assert.Equal(t, hookflow.EUNAUTHORIZED, hookflow.ErrorCode(err), "the portal's session ended with it")
}

func TestKeySessionsKeepTheirCookieAndStayUnframed(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	b := e.browser()
	b.get("/login")
	p := b.post("/login", url.Values{"api_key": {acc.APIKey}}, "X-Forwarded-Proto", "https")
	require.Equal(t, http.StatusSeeOther, p.status)
	cookie := findCookie(p.header, sessionCookie)
	require.NotNil(t, cookie)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.False(t, cookie.Partitioned)

	home := b.get("/")
	assert.Equal(t, contentSecurityPolicy, home.header.Get("Content-Security-Policy"))
	assert.Contains(t, contentSecurityPolicy, "frame-ancestors 'none'")
	assert.Equal(t, "DENY", home.header.Get("X-Frame-Options"))
	assert.NotContains(t, home.body, `id="read-only"`)
}

func TestSignInFollowsTheKeysScope(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	ctx := context.Background()
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	read, err := e.db.CreateAPIKey(ctx, acc.ID, hookflow.APIKeyInput{Name: "support", Scope: hookflow.ScopeRead})
	require.NoError(t, err)
	ingest, err := e.db.CreateAPIKey(ctx, acc.ID, hookflow.APIKeyInput{Name: "backend", Scope: hookflow.ScopeIngest})
	require.NoError(t, err)

	b := e.browser()
	b.get("/login")
	p := b.post("/login", url.Values{"api_key": {ingest.Key}})
	assert.Equal(t, http.StatusForbidden, p.status)
	assert.Contains(t, p.body, "This key has the ingest scope")
	assert.Nil(t, findCookie(p.header, sessionCookie))

	b.signIn(read.Key)
	page := b.get("/subscriptions/" + sub.ID)
	assert.Contains(t, page.body, `id="read-only"`)
	assert.Empty(t, actions(page.body))
	assert.Equal(t, http.StatusForbidden, b.post("/subscriptions/"+sub.ID+"/test", nil).status)
	assert.Equal(t, contentSecurityPolicy, page.header.Get("Content-Security-Policy"), "a read key's session is no portal")

	// Revoking the key ends the sessions signed in with it.
	require.NoError(t, e.db.RevokeAPIKey(ctx, acc.ID, read.ID))
	p = b.get("/subscriptions/" + sub.ID)
	assert.Equal(t, http.StatusSeeOther, p.status)
	assert.True(t, strings.HasPrefix(p.header.Get("Location"), "/login"))
}

// A portal link opened at the top level of a browser signed in with a key would move that
// tab into the link's account without a word (anyone can mint a link to their own): it is
// refused and stays unused. Inside a frame it opens.
func TestPortalLinkDoesNotReplaceAKeySignIn(t *testing.T) {
	e := newPortalDashboard(t)
	mine := e.account("my account")
	theirs := e.account("their account")
	b := e.browser()
	b.signIn(mine.APIKey)
	link := e.portalLink(hookflow.PortalLinkInput{AccountID: theirs.ID})
	p := b.get(link)
	assert.Equal(t, http.StatusConflict, p.status)
	assert.Contains(t, p.body, "Sign out first")
	assert.Contains(t, b.get("/").body, "my account", "the key's session goes on")
	b.openPortal(link, "Sec-Fetch-Dest", "iframe")
}

// An ended portal in a browser that is also signed in with a key leaves the key's session
// usable instead of a page that cannot be left.
func TestEndedPortalGivesWayToAKeySignIn(t *testing.T) {
	e := newPortalDashboard(t)
	acc := e.account("acme")
	now := time.Now()
	e.db.Now = func() time.Time { return now }
	b := e.browser()
	b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID}), "Sec-Fetch-Dest", "iframe")
	b.signIn(acc.APIKey)
	b.openPortal(e.portalLink(hookflow.PortalLinkInput{AccountID: acc.ID}), "Sec-Fetch-Dest", "iframe")
	now = now.Add(2 * time.Hour) // the portal's hour is over; the sign-in's 12 are not
	home := b.get("/")
	assert.Equal(t, http.StatusOK, home.status, home.body)
	assert.Contains(t, home.body, "acme")
}
