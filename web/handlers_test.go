package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/hookflow/hookflow"
	"github.com/hookflow/hookflow/api"
	"github.com/hookflow/hookflow/store"
	"github.com/hookflow/hookflow/store/storetest"
)

// recordingRetrier stands in for Temporal: it notes which deliveries were asked to retry.
type recordingRetrier struct {
	mu  sync.Mutex
	ids []string
	err error
}

func (r *recordingRetrier) RetryDelivery(_ context.Context, d hookflow.Delivery) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, fmt.Sprint(d.ID))
	return r.err
}

// allowAll is an egress policy that accepts every URL the domain accepts.
type allowAll struct{}

func (allowAll) CheckURL(context.Context, string) error { return nil }

type dashboardEnv struct {
	t       *testing.T
	db      *store.DB
	url     string
	retrier *recordingRetrier
}

// newDashboard serves the dashboard, behind the real API router, on a fresh database.
func newDashboard(t *testing.T, wrap func(*Deps)) *dashboardEnv {
	t.Helper()
	db := storetest.MustOpen(t)
	e := &dashboardEnv{t: t, db: db, retrier: &recordingRetrier{}}
	deps := Deps{Accounts: db, Subscriptions: db, Deliveries: db, Events: db, Fulfilments: db, Campaigns: db, Outages: db, Sessions: db,
		Retrier: e.retrier, URLs: allowAll{}, TemporalUIURL: "http://temporal.example:8233", Namespace: "prod"}
	if wrap != nil {
		wrap(&deps)
	}
	router := api.NewRouter(api.Deps{Accounts: db, Extra: func(r *gin.Engine) { Register(r, deps) }})
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// browser is a cookie-keeping client that does not follow redirects, so tests see them.
type browser struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

func (e *dashboardEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: e.t, base: e.url, http: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	body   string
	header http.Header
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (b *browser) do(req *http.Request) page {
	b.t.Helper()
	resp, err := b.http.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfField.FindStringSubmatch(string(raw)); m != nil {
		b.csrf = m[1]
	}
	return page{status: resp.StatusCode, body: string(raw), header: resp.Header}
}

func (b *browser) get(path string) page {
	b.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
	require.NoError(b.t, err)
	return b.do(req)
}

// post sends a form; the page's CSRF token is added unless the form has one already.
func (b *browser) post(path string, form url.Values, headers ...string) page {
	b.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok {
		form.Set("csrf", b.csrf)
	}
	req, err := http.NewRequest(http.MethodPost, b.base+path, strings.NewReader(form.Encode()))
	require.NoError(b.t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return b.do(req)
}

func (b *browser) signIn(key string) {
	b.t.Helper()
	require.Equal(b.t, http.StatusOK, b.get("/login").status)
	p := b.post("/login", url.Values{"api_key": {key}})
	require.Equal(b.t, http.StatusSeeOther, p.status, p.body)
	home := b.get("/")
	require.Equal(b.t, http.StatusOK, home.status)
}

func (e *dashboardEnv) account(name string) hookflow.NewAccount {
	acc, err := e.db.CreateAccount(context.Background(), name)
	require.NoError(e.t, err)
	return acc
}

func (e *dashboardEnv) subscription(accountID, rawURL string) hookflow.Subscription {
	u := rawURL
	sub := hookflow.NewSubscription(hookflow.SubscriptionUpdate{URL: &u})
	sub.SecretKey = "whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ="
	require.NoError(e.t, e.db.CreateSubscription(context.Background(), accountID, &sub))
	return sub
}

func TestSignedOutPagesRedirectToLogin(t *testing.T) {
	e := newDashboard(t, nil)
	b := e.browser()
	p := b.get("/")
	assert.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, "/login", p.header.Get("Location"))
	p = b.get("/subscriptions/abc?status=failed")
	assert.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, "/login?next="+url.QueryEscape("/subscriptions/abc?status=failed"), p.header.Get("Location"))
	p = b.post("/subscriptions", url.Values{"url": {"https://example.com"}})
	assert.Equal(t, http.StatusSeeOther, p.status)
	assert.Equal(t, "/login", p.header.Get("Location"))
}

func TestSignInOutAndCookie(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()

	login := b.get("/login")
	assert.Contains(t, login.body, `name="api_key"`)
	assert.Equal(t, contentSecurityPolicy, login.header.Get("Content-Security-Policy"))

	wrong := b.post("/login", url.Values{"api_key": {"hfk_0123456789abcdef_nope"}})
	assert.Equal(t, http.StatusUnauthorized, wrong.status)
	assert.Contains(t, wrong.body, "That API key is not valid")
	assert.NotContains(t, wrong.body, "hfk_0123456789abcdef_nope", "the key typed is not echoed back")

	ok := b.post("/login", url.Values{"api_key": {acc.APIKey}, "next": {"/fulfilments"}})
	require.Equal(t, http.StatusSeeOther, ok.status, ok.body)
	assert.Equal(t, "/fulfilments", ok.header.Get("Location"))
	cookie := findCookie(ok.header, sessionCookie)
	require.NotNil(t, cookie)
	assert.True(t, cookie.HttpOnly)
	assert.Equal(t, http.SameSiteLaxMode, cookie.SameSite)
	assert.False(t, cookie.Secure, "plain HTTP cannot carry a Secure cookie")
	assert.Equal(t, int(SessionTTL.Seconds()), cookie.MaxAge)

	home := b.get("/")
	assert.Equal(t, http.StatusOK, home.status)
	assert.Contains(t, home.body, "acme")
	assert.Contains(t, home.body, "No subscriptions yet")

	out := b.post("/logout", nil)
	assert.Equal(t, http.StatusSeeOther, out.status)
	assert.Equal(t, "/login", out.header.Get("Location"))
	_, err := e.db.Session(context.Background(), cookie.Value)
	assert.Equal(t, hookflow.EUNAUTHORIZED, hookflow.ErrorCode(err), "signing out ends the session server-side")
	assert.Equal(t, http.StatusSeeOther, b.get("/").status)
}

func TestSessionCookieIsSecureBehindTLS(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()
	b.get("/login")
	p := b.post("/login", url.Values{"api_key": {acc.APIKey}}, "X-Forwarded-Proto", "https")
	require.Equal(t, http.StatusSeeOther, p.status)
	cookie := findCookie(p.header, sessionCookie)
	require.NotNil(t, cookie)
	assert.True(t, cookie.Secure)
}

func TestLoginFormNeedsItsToken(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()
	p := b.post("/login", url.Values{"api_key": {acc.APIKey}, "csrf": {"made-up"}})
	assert.Equal(t, http.StatusForbidden, p.status)
	assert.Nil(t, findCookie(p.header, sessionCookie))
}

func TestFormsNeedTheSessionTokenAndOrigin(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)

	missing := b.post("/subscriptions/"+sub.ID+"/delete", url.Values{"csrf": {""}})
	assert.Equal(t, http.StatusForbidden, missing.status)
	assert.Contains(t, missing.body, "Request refused")
	wrong := b.post("/subscriptions/"+sub.ID+"/delete", url.Values{"csrf": {b.csrf + "x"}})
	assert.Equal(t, http.StatusForbidden, wrong.status)
	foreign := b.post("/subscriptions/"+sub.ID+"/delete", nil, "Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, foreign.status)
	_, err := e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err, "a refused form changes nothing")

	same := b.post("/subscriptions/"+sub.ID+"/delete", nil, "Origin", e.url)
	assert.Equal(t, http.StatusSeeOther, same.status)
	_, err = e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	assert.Equal(t, hookflow.ENOTFOUND, hookflow.ErrorCode(err))
}

func TestCreateSubscriptionThroughTheForm(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()
	b.signIn(acc.APIKey)
	require.Contains(t, b.get("/subscriptions/new").body, `value="*"`)

	p := b.post("/subscriptions", url.Values{"url": {"https://example.com/hooks"}, "event_types": {"promoter.* lead.created"},
		"campaign_ids": {"c1, c2"}, "description": {"primary"}, "active": {"on"}, "timeout": {"12"},
		"max_retries": {"5"}, "headers": {"X-Team: payments\nX-Env: prod"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	subs, err := e.db.ListSubscriptions(context.Background(), acc.ID)
	require.NoError(t, err)
	require.Len(t, subs, 1)
	s := subs[0]
	assert.Equal(t, "/subscriptions/"+s.ID+"?notice=created", p.header.Get("Location"))
	assert.Equal(t, []string{"promoter.*", "lead.created"}, s.EventTypes)
	assert.Equal(t, []string{"c1", "c2"}, s.CampaignIDs)
	assert.Equal(t, 12, s.Timeout)
	assert.Equal(t, 5, s.MaxRetries)
	assert.Equal(t, map[string]string{"X-Team": "payments", "X-Env": "prod"}, s.Headers)
	assert.True(t, strings.HasPrefix(s.SecretKey, "whsec_"))

	page := b.get(p.header.Get("Location"))
	assert.Contains(t, page.body, "Subscription created.")
	assert.Contains(t, html.UnescapeString(page.body), s.SecretKey, "the owner can reveal the secret")
}

func TestFormErrorsShowBesideTheFieldAndKeepInput(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.post("/subscriptions", url.Values{"url": {"https://example.com/hooks"}, "event_types": {"lead.*"},
		"timeout": {"500"}, "max_retries": {"3"}, "headers": {"X-Team: payments"}, "description": {"keep <me>"}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.status)
	assert.Contains(t, p.body, `<p class="field-error" id="timeout-error">must be between 1 and 120 seconds</p>`)
	assert.Contains(t, p.body, `value="500"`)
	assert.Contains(t, p.body, `value="lead.*"`)
	assert.Contains(t, p.body, "keep &lt;me&gt;")
	assert.Contains(t, p.body, "X-Team: payments")

	p = b.post("/subscriptions", url.Values{"url": {"ftp://x"}, "event_types": {"*"}, "timeout": {"30"}, "max_retries": {"3"}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.status)
	assert.Contains(t, p.body, `id="url-error">must be an http or https URL</p>`)

	subs, err := e.db.ListSubscriptions(context.Background(), acc.ID)
	require.NoError(t, err)
	assert.Empty(t, subs)
}

func TestEditSubscription(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)

	edit := b.get("/subscriptions/" + sub.ID + "/edit")
	require.Equal(t, http.StatusOK, edit.status)
	assert.Contains(t, edit.body, `value="https://example.com/hooks"`)

	bad := b.post("/subscriptions/"+sub.ID+"/edit", url.Values{"url": {"https://example.com/v2"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"11"}})
	assert.Equal(t, http.StatusUnprocessableEntity, bad.status)
	assert.Contains(t, bad.body, `id="max_retries-error"`)
	assert.Contains(t, bad.body, `value="https://example.com/v2"`)

	bad = b.post("/subscriptions/"+sub.ID+"/edit", url.Values{"url": {"https://example.com/v2"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"3"}, "rate_limit": {"-4"}})
	assert.Equal(t, http.StatusUnprocessableEntity, bad.status)
	assert.Contains(t, bad.body, `<p class="field-error" id="rate_limit-error">must be between 0 (no limit) and 10000 requests per second</p>`)

	ok := b.post("/subscriptions/"+sub.ID+"/edit", url.Values{"url": {"https://example.com/v2"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"0"}, "rate_limit": {"7"}})
	require.Equal(t, http.StatusSeeOther, ok.status, ok.body)
	got, err := e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, "https://example.com/v2", got.URL)
	assert.False(t, got.Active, "the unticked box turned it off")
	assert.Equal(t, 0, got.MaxRetries)
	assert.Equal(t, 7, got.RateLimit)
	assert.Contains(t, b.get("/subscriptions/"+sub.ID).body, `<dd id="rate-limit">7 requests/second</dd>`)
}

func TestRotateSecretAndSendTest(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)
	b.get("/subscriptions/" + sub.ID)

	p := b.post("/subscriptions/"+sub.ID+"/rotate-secret", nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	got, err := e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	assert.NotEqual(t, sub.SecretKey, got.SecretKey)
	require.NotEmpty(t, got.RetiredSecrets)
	assert.Equal(t, sub.SecretKey, got.RetiredSecrets[0].Key)
	page := b.get(p.header.Get("Location"))
	assert.Contains(t, html.UnescapeString(page.body), got.SecretKey)
	assert.Contains(t, page.body, `<details class="secret" open>`)

	p = b.post("/subscriptions/"+sub.ID+"/test", nil)
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	page = b.get(p.header.Get("Location"))
	assert.Contains(t, page.body, hookflow.TestEventType)
	assert.Contains(t, page.body, `badge-pending`)
	assert.Contains(t, page.body, `<meta http-equiv="refresh" content="2">`, "an in-flight delivery refreshes the page")
}

func TestDeliveryPageAndRetry(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	d, err := e.db.CreateTestDelivery(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.get("/deliveries/" + fmt.Sprint(d.ID))
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, `<meta http-equiv="refresh" content="2">`)
	assert.Contains(t, p.body, `href="http://temporal.example:8233/namespaces/prod/workflows/`+d.WorkflowID+`"`)
	assert.Contains(t, p.body, "&#34;test&#34;: true", "the payload is indented")
	assert.Contains(t, p.body, `id="retry"`)
	assert.NotContains(t, p.body, `id="delivery-waiting"`)

	// A delivery waiting for its endpoint says why and since when.
	require.NoError(t, e.db.MarkWaiting(context.Background(), d.Key, hookflow.WaitThrottled, time.Now().Add(time.Minute)))
	p = b.get("/deliveries/" + fmt.Sprint(d.ID))
	assert.Contains(t, p.body, `<dd id="delivery-waiting"><span class="badge badge-retrying">throttled: the endpoint asked to slow down</span> since <time`)
	require.NoError(t, e.db.ClearWaiting(context.Background(), d.Key))

	r := b.post("/deliveries/"+fmt.Sprint(d.ID)+"/retry", nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, "/deliveries/"+fmt.Sprint(d.ID)+"?notice=retry-requested&after=0", r.header.Get("Location"))
	assert.Equal(t, []string{fmt.Sprint(d.ID)}, e.retrier.ids)

	_, err = e.db.SQL().Exec(`UPDATE deliveries SET status = 'delivered', attempts = 1, response_code = 200 WHERE id = $1`, d.Key)
	require.NoError(t, err)
	p = b.get("/deliveries/" + fmt.Sprint(d.ID))
	assert.NotContains(t, p.body, `id="retry"`, "a delivered delivery has no Retry button")
	assert.NotContains(t, p.body, `http-equiv="refresh"`)
	conflict := b.post("/deliveries/"+fmt.Sprint(d.ID)+"/retry", nil)
	assert.Equal(t, http.StatusConflict, conflict.status)
	assert.Contains(t, conflict.body, "already delivered")
	assert.Len(t, e.retrier.ids, 1)

	e.retrier.err = &hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the workflow service is unavailable, retry later"}
	_, err = e.db.SQL().Exec(`UPDATE deliveries SET status = 'failed' WHERE id = $1`, d.Key)
	require.NoError(t, err)
	down := b.post("/deliveries/"+fmt.Sprint(d.ID)+"/retry", nil)
	assert.Equal(t, http.StatusServiceUnavailable, down.status)
	assert.Contains(t, down.body, "the workflow service is unavailable")
}

func TestAnotherAccountsIDsAreNotFound(t *testing.T) {
	e := newDashboard(t, nil)
	a := e.account("a")
	bAcc := e.account("b")
	sub := e.subscription(a.ID, "https://a.example/private-endpoint")
	d, err := e.db.CreateTestDelivery(context.Background(), a.ID, sub.ID)
	require.NoError(t, err)

	b := e.browser()
	b.signIn(bAcc.APIKey)
	for _, path := range []string{"/subscriptions/" + sub.ID, "/subscriptions/" + sub.ID + "/edit",
		"/subscriptions/" + sub.ID + "/delete", "/deliveries/" + fmt.Sprint(d.ID), "/subscriptions/not-a-uuid",
		"/deliveries/00000000-0000-0000-0000-000000000000", "/deliveries/%27%3B--", "/static/nope.css"} {
		p := b.get(path)
		assert.Equal(t, http.StatusNotFound, p.status, path)
		assert.Contains(t, p.body, "belongs to another account", path)
		assert.NotContains(t, p.body, "a.example", path)
	}
	for _, path := range []string{"/subscriptions/" + sub.ID + "/test", "/subscriptions/" + sub.ID + "/rotate-secret",
		"/subscriptions/" + sub.ID + "/delete", "/deliveries/" + fmt.Sprint(d.ID) + "/retry",
		"/subscriptions/" + sub.ID + "/pause", "/subscriptions/" + sub.ID + "/resume",
		"/deliveries/" + fmt.Sprint(d.ID) + "/replay"} {
		assert.Equal(t, http.StatusNotFound, b.post(path, nil).status, path)
	}
	recovery := url.Values{"since": {time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")}}
	assert.Equal(t, http.StatusNotFound, b.post("/subscriptions/"+sub.ID+"/recover", recovery).status)
	assert.Equal(t, http.StatusNotFound, b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {"soon"}}).status,
		"a bad recover form does not reveal that the id exists")
	assert.Equal(t, http.StatusNotFound, b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {strings.Repeat("x", 501)}}).status,
		"a bad pause form does not reveal that the id exists")
	pausedA, err := e.db.FindSubscription(context.Background(), a.ID, sub.ID)
	require.NoError(t, err)
	assert.False(t, pausedA.Paused, "B cannot pause A's subscription")
	recoveries, err := e.db.ListRecoveries(context.Background(), a.ID, sub.ID)
	require.NoError(t, err)
	assert.Empty(t, recoveries, "B cannot recover A's deliveries")
	listed, err := e.db.ListDeliveries(context.Background(), a.ID, hookflow.DeliveryFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	assert.Len(t, listed.Data, 1, "B cannot replay A's event")
	edit := b.post("/subscriptions/"+sub.ID+"/edit", url.Values{"url": {"https://b.example"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"3"}})
	assert.Equal(t, http.StatusNotFound, edit.status)
	edit = b.post("/subscriptions/"+sub.ID+"/edit", url.Values{"url": {"ftp://b"}, "event_types": {"*"},
		"timeout": {"30"}, "max_retries": {"3"}})
	assert.Equal(t, http.StatusNotFound, edit.status, "a bad form does not reveal that the id exists")
	assert.Empty(t, e.retrier.ids)
	got, err := e.db.FindSubscription(context.Background(), a.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, sub.SecretKey, got.SecretKey)
}

// failingSubscriptions makes listings fail the way the store fails.
type failingSubscriptions struct {
	hookflow.SubscriptionService
	err error
}

func (f failingSubscriptions) ListSubscriptions(context.Context, string) ([]hookflow.Subscription, error) {
	return nil, f.err
}

func TestDependencyErrorsArePages(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		shows  string
	}{
		{&hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the database is unavailable, retry later"}, http.StatusServiceUnavailable, "the database is unavailable"},
		{errors.New("pq: relation secret_table does not exist"), http.StatusInternalServerError, "Something went wrong"},
	} {
		e := newDashboard(t, func(d *Deps) { d.Subscriptions = failingSubscriptions{d.Subscriptions, tc.err} })
		acc := e.account("acme")
		b := e.browser()
		b.get("/login")
		require.Equal(t, http.StatusSeeOther, b.post("/login", url.Values{"api_key": {acc.APIKey}}).status)
		p := b.get("/")
		assert.Equal(t, tc.status, p.status)
		assert.Contains(t, p.body, tc.shows)
		assert.NotContains(t, p.body, "secret_table", "internal error text never reaches the page")
		assert.Contains(t, p.header.Get("Content-Type"), "text/html")
	}
}

func TestDeliveryFiltersAndPaging(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	for i := 0; i < deliveriesPerPage+2; i++ {
		_, err := e.db.CreateTestDelivery(context.Background(), acc.ID, sub.ID)
		require.NoError(t, err)
	}
	_, err := e.db.SQL().Exec(`UPDATE deliveries SET status = 'delivered'`)
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)

	first := b.get("/subscriptions/" + sub.ID + "?status=delivered")
	require.Equal(t, http.StatusOK, first.status)
	assert.Equal(t, deliveriesPerPage, strings.Count(first.body, `class="badge badge-delivered"`))
	older := regexp.MustCompile(`href="([^"]+)" class="older">Older →`).FindStringSubmatch(first.body)
	require.NotNil(t, older, "a full page links to older deliveries")
	next := strings.ReplaceAll(older[1], "&amp;", "&")
	assert.Contains(t, next, "status=delivered")
	second := b.get(next)
	assert.Equal(t, 2, strings.Count(second.body, `class="badge badge-delivered"`))
	assert.NotContains(t, second.body, "Older →")
	assert.Contains(t, second.body, "← Newest")

	none := b.get("/subscriptions/" + sub.ID + "?status=failed")
	assert.Contains(t, none.body, "No deliveries match this filter.")
	wrong := b.get("/subscriptions/" + sub.ID + "?event_type=lead.created")
	assert.Contains(t, wrong.body, "No deliveries match this filter.")
	bad := b.get("/subscriptions/" + sub.ID + "?status=bogus")
	assert.Equal(t, http.StatusBadRequest, bad.status)
	assert.Contains(t, bad.body, "status: must be pending, delivered, retrying or failed")
}

func TestStaticFilesAreEmbedded(t *testing.T) {
	e := newDashboard(t, nil)
	resp, err := http.Get(e.url + "/static/style.css")
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/css")
}

func findCookie(h http.Header, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// A path nothing serves: a browser gets the dashboard's page, an API client JSON, and
// under /v1 it is always JSON.
func TestUnknownPathsAnswerInTheAskersLanguage(t *testing.T) {
	t.Parallel()
	e := newDashboard(t, nil)
	b := e.browser()
	ask := func(path, accept string) page {
		req, err := http.NewRequest(http.MethodGet, b.base+path, nil)
		require.NoError(t, err)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		return b.do(req)
	}
	html := "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

	p := ask("/no-such-page", html)
	assert.Equal(t, http.StatusNotFound, p.status)
	assert.Contains(t, p.header.Get("Content-Type"), "text/html")
	assert.Contains(t, p.body, "Not found")

	for _, c := range []struct{ path, accept string }{{"/no-such-page", ""}, {"/no-such-page", "application/json"}, {"/v1/no-such-route", html}} {
		p := ask(c.path, c.accept)
		assert.Equal(t, http.StatusNotFound, p.status, c)
		assert.Contains(t, p.header.Get("Content-Type"), "application/json", c)
		assert.Contains(t, p.body, `"code":"not_found"`, c)
	}
}

// formTime writes a time as a datetime-local input sends it.
func formTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") }

func TestPauseAndResumeShowAndHideTheBanner(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	ctx := context.Background()
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.get("/subscriptions/" + sub.ID)
	assert.Contains(t, p.body, `id="pause-button"`)
	assert.NotContains(t, p.body, `id="paused-banner"`)
	assert.NotContains(t, p.body, "badge-paused")

	r := b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {"  CRM <maintenance>  "}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, "/subscriptions/"+sub.ID+"?notice=paused", r.header.Get("Location"))
	got, err := e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.True(t, got.Paused)
	assert.Equal(t, "CRM <maintenance>", got.PausedReason)

	// A delivery that met the pause is held; the banner counts it.
	d, err := e.db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.NoError(t, e.db.MarkWaiting(ctx, d.Key, hookflow.WaitPaused, time.Now().Add(time.Hour)))
	p = b.get(r.header.Get("Location"))
	require.Equal(t, http.StatusOK, p.status)
	assert.Contains(t, p.body, "Subscription paused.")
	assert.Contains(t, p.body, `id="paused-banner"`)
	assert.Contains(t, p.body, `<p id="paused-reason">CRM &lt;maintenance&gt;</p>`)
	assert.Contains(t, p.body, `<strong id="held-count">1</strong> delivery is held`)
	assert.Contains(t, p.body, `<time datetime="`+iso(got.PausedAt)+`">`)
	assert.Contains(t, p.body, `id="resume"`)
	assert.NotContains(t, p.body, `id="pause-button"`)
	assert.Contains(t, p.body, `title="held: the subscription is paused">held</span>`)
	assert.NotContains(t, p.body, `http-equiv="refresh"`, "a held delivery changes only on resume: nothing to refresh for")
	assert.Contains(t, b.get("/").body, `<span class="badge badge-paused" title="CRM &lt;maintenance&gt;">paused</span>`)

	dp := b.get("/deliveries/" + fmt.Sprint(d.ID))
	assert.Contains(t, dp.body, `<span class="badge badge-paused">held: the subscription is paused</span>`)
	assert.Contains(t, dp.body, `<a href="/subscriptions/`+sub.ID+`" class="small">resume the subscription</a>`)
	assert.NotContains(t, dp.body, `http-equiv="refresh"`)

	// Pausing again is harmless and keeps the first reason.
	again := b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {"again"}})
	require.Equal(t, http.StatusSeeOther, again.status, again.body)
	got, err = e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Equal(t, "CRM <maintenance>", got.PausedReason)

	r = b.post("/subscriptions/"+sub.ID+"/resume", nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	assert.Equal(t, "/subscriptions/"+sub.ID+"?notice=resumed", r.header.Get("Location"))
	got, err = e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.False(t, got.Paused)
	held, err := e.db.CountHeld(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Zero(t, held, "the resume released the held delivery")
	p = b.get(r.header.Get("Location"))
	assert.Contains(t, p.body, "Subscription resumed.")
	assert.NotContains(t, p.body, `id="paused-banner"`)
	assert.Contains(t, p.body, `id="pause-button"`)
	assert.Contains(t, p.body, `http-equiv="refresh"`, "the released delivery is followed again")
	assert.NotContains(t, b.get("/").body, "badge-paused")
	assert.Equal(t, http.StatusSeeOther, b.post("/subscriptions/"+sub.ID+"/resume", nil).status, "resuming again is harmless")

	// Without a reason the banner still says where the pause came from.
	require.Equal(t, http.StatusSeeOther, b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {"   "}}).status)
	assert.Contains(t, b.get("/subscriptions/"+sub.ID).body, `<p id="paused-reason">`+dashboardPauseReason+`</p>`)
}

func TestPauseReasonErrorShowsBesideTheField(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)
	b.get("/subscriptions/" + sub.ID)

	long := strings.Repeat("é", hookflow.MaxPauseReasonChars+1)
	p := b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {long}})
	assert.Equal(t, http.StatusUnprocessableEntity, p.status)
	assert.Contains(t, p.body, `<p class="field-error" id="reason-error">must be text of at most 500 characters</p>`)
	assert.Contains(t, html.UnescapeString(p.body), `value="`+long+`"`, "what was typed is kept")
	assert.NotContains(t, p.body, `http-equiv="refresh"`)
	got, err := e.db.FindSubscription(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	assert.False(t, got.Paused)
}

func TestRecoverFormErrorsNameTheFieldAndCreateNothing(t *testing.T) {
	e := newDashboard(t, func(d *Deps) { d.Outages.(*store.DB).Retention = 24 * time.Hour })
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)
	b.get("/subscriptions/" + sub.ID)

	now := time.Now()
	for _, tc := range []struct {
		since, until string
		field, shows string
	}{
		{"", "", "since", "is required"},
		{"yesterday", "", "since", "must be a date and time in UTC, such as 2026-12-01T09:00"},
		{formTime(now.Add(2 * time.Hour)), "", "since", "is in the future"},
		{formTime(now.Add(-48 * time.Hour)), "", "since", "is older than the retention (24h0m0s)"},
		{formTime(now.Add(-time.Hour)), "soon", "until", "must be a date and time in UTC"},
		{formTime(now.Add(-time.Hour)), formTime(now.Add(-2 * time.Hour)), "until", "must be after since"},
	} {
		p := b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {tc.since}, "until": {tc.until}})
		assert.Equal(t, http.StatusUnprocessableEntity, p.status, tc)
		assert.Contains(t, p.body, `<p class="field-error" id="`+tc.field+`-error">`+tc.shows, tc)
		assert.Contains(t, p.body, `id="recover-since" name="since" value="`+tc.since+`"`, "what was typed is kept")
		assert.Contains(t, p.body, `id="recover-until" name="until" value="`+tc.until+`"`, "what was typed is kept")
		assert.Contains(t, p.body, `aria-describedby="`+tc.field+`-error"`, tc)
		assert.NotContains(t, p.body, `http-equiv="refresh"`, "a form with errors is not refreshed away")
	}
	recoveries, err := e.db.ListRecoveries(context.Background(), acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Empty(t, recoveries)
}

func TestRecoverListsTheRecoveryWithItsWorkflow(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	ctx := context.Background()
	d, err := e.db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	_, err = e.db.SQL().Exec(`UPDATE deliveries SET status = 'failed', attempts = 1 WHERE id = $1`, d.Key)
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)
	assert.Contains(t, b.get("/subscriptions/"+sub.ID).body, "None yet.")

	since := formTime(time.Now().Add(-time.Hour))
	p := b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {since}, "until": {""}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	assert.Equal(t, "/subscriptions/"+sub.ID+"?notice=recovery-started", p.header.Get("Location"))
	recoveries, err := e.db.ListRecoveries(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.Len(t, recoveries, 1)
	r := recoveries[0]
	assert.Equal(t, since, formTime(r.Since), "the form's time is read as UTC")
	assert.Nil(t, r.Until)
	assert.Equal(t, 1, r.Total)

	page := b.get("/subscriptions/" + sub.ID + "?notice=recovery-started")
	assert.Contains(t, page.body, "Recovery started")
	assert.Contains(t, page.body, `<span class="badge badge-running">running</span>`)
	assert.Contains(t, page.body, `<td class="num">0 / 1</td>`)
	assert.Contains(t, page.body, `href="http://temporal.example:8233/namespaces/prod/workflows/recovery-`+r.ID+`"`)
	assert.Contains(t, page.body, `(when asked)`)
	assert.Contains(t, page.body, `http-equiv="refresh"`, "a running recovery is followed")

	until := formTime(time.Now().Add(-time.Minute))
	// One recovery of a subscription runs at a time.
	refused := b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {since}, "until": {until}})
	require.Equal(t, http.StatusConflict, refused.status)
	assert.Contains(t, refused.body, "a recovery of this subscription is running")
	_, err = e.db.SQL().Exec(`UPDATE recoveries SET status = 'completed' WHERE id = $1`, r.ID)
	require.NoError(t, err)
	p = b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {since}, "until": {until}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	recoveries, err = e.db.ListRecoveries(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	require.Len(t, recoveries, 2)
	require.NotNil(t, recoveries[0].Until)
	assert.Equal(t, until, formTime(*recoveries[0].Until))
}

// unavailableRecoveries answers recoveries the way the service does while Temporal is down.
type unavailableRecoveries struct{ hookflow.OutageService }

func (unavailableRecoveries) CreateRecovery(context.Context, string, string, hookflow.RecoveryRequest) (hookflow.Recovery, error) {
	return hookflow.Recovery{}, &hookflow.Error{Code: hookflow.EUNAVAILABLE, Message: "the workflow service is unavailable, retry later"}
}

func TestRecoverWhileTemporalIsDownKeepsTheForm(t *testing.T) {
	e := newDashboard(t, func(d *Deps) { d.Outages = unavailableRecoveries{d.Outages} })
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)
	b.get("/subscriptions/" + sub.ID)

	since := formTime(time.Now().Add(-time.Hour))
	p := b.post("/subscriptions/"+sub.ID+"/recover", url.Values{"since": {since}})
	assert.Equal(t, http.StatusServiceUnavailable, p.status)
	assert.Equal(t, "5", p.header.Get("Retry-After"))
	assert.Contains(t, p.body, `<p class="flash flash-alert" role="alert">the workflow service is unavailable, retry later</p>`)
	assert.Contains(t, p.body, `value="`+since+`"`)
}

func TestReplayCreatesANewDeliveryAndShowsIt(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	ctx := context.Background()
	in := hookflow.EventInput{EventType: "lead.created", Action: "created", EntityType: "lead",
		EntityID: hookflow.EntityID{Value: "L-1042"}, Data: []byte(`{"email":"sam@example.com"}`)}
	require.NoError(t, in.Validate())
	ingested, err := e.db.IngestEvent(ctx, acc.ID, in, "")
	require.NoError(t, err)
	require.Len(t, ingested.Deliveries, 1)
	first, err := e.db.FindDelivery(ctx, acc.ID, fmt.Sprint(ingested.Deliveries[0].ID))
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.get("/deliveries/" + fmt.Sprint(first.ID))
	assert.Contains(t, p.body, `action="/deliveries/`+fmt.Sprint(first.ID)+`/replay"`)
	assert.Contains(t, p.body, `id="replay"`)

	r := b.post("/deliveries/"+fmt.Sprint(first.ID)+"/replay", nil)
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	location := r.header.Get("Location")
	m := regexp.MustCompile(`^/deliveries/(\d+)\?notice=replayed$`).FindStringSubmatch(location)
	require.NotNil(t, m, location)
	assert.NotEqual(t, fmt.Sprint(first.ID), m[1])
	replayed, err := e.db.FindDelivery(ctx, acc.ID, m[1])
	require.NoError(t, err)
	assert.Equal(t, first.EventID, replayed.EventID, "the same event, so the same webhook-id")
	assert.Equal(t, sub.ID, replayed.SubscriptionID)
	assert.JSONEq(t, string(first.Payload), string(replayed.Payload))
	page := b.get(location)
	assert.Equal(t, http.StatusOK, page.status)
	assert.Contains(t, page.body, "Event replayed")
	assert.Contains(t, page.body, `<code>`+first.EventID+`</code>`)

	// An inactive subscription takes no replay: no button, and a posted form is a 409
	// shown on the page.
	active := false
	_, err = e.db.UpdateSubscription(ctx, acc.ID, sub.ID, hookflow.SubscriptionUpdate{Active: &active}, (*hookflow.Subscription).Validate)
	require.NoError(t, err)
	p = b.get("/deliveries/" + fmt.Sprint(first.ID))
	assert.NotContains(t, p.body, `id="replay"`)
	conflict := b.post("/deliveries/"+fmt.Sprint(first.ID)+"/replay", nil)
	assert.Equal(t, http.StatusConflict, conflict.status)
	assert.Contains(t, conflict.body, `<p class="flash flash-alert" role="alert">the subscription is not active</p>`)
	listed, err := e.db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	assert.Len(t, listed.Data, 2, "the refused replay created nothing")
}

func TestReplayOfACampaignWebhookDeliveryIsRefused(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	ctx := context.Background()
	campaign, err := e.db.CreateCampaign(ctx, acc.ID, hookflow.NewCampaign{Name: "Spring"}, "whsec_dGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQtdGVzdC1zZWNyZXQ=")
	require.NoError(t, err)
	campaign, err = e.db.SetCampaignWebhooks(ctx, acc.ID, campaign.ID, []hookflow.CampaignWebhook{{Kind: hookflow.WebhookDefault, URL: "https://example.com/legacy"}})
	require.NoError(t, err)
	d, err := e.db.CreateCampaignTestDelivery(ctx, acc.ID, campaign.ID, campaign.Webhooks[0].ID)
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)

	p := b.get("/deliveries/" + fmt.Sprint(d.ID))
	require.Equal(t, http.StatusOK, p.status)
	assert.NotContains(t, p.body, `id="replay"`)
	r := b.post("/deliveries/"+fmt.Sprint(d.ID)+"/replay", nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Contains(t, r.body, "went to a campaign webhook")
}

func TestUnknownIDsOfTheOutageFormsAreNotFound(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	b := e.browser()
	b.signIn(acc.APIKey)
	since := url.Values{"since": {formTime(time.Now().Add(-time.Hour))}}
	for _, path := range []string{"/subscriptions/not-a-uuid/pause", "/subscriptions/00000000-0000-0000-0000-000000000000/pause",
		"/subscriptions/not-a-uuid/resume", "/subscriptions/00000000-0000-0000-0000-000000000000/resume",
		"/subscriptions/not-a-uuid/recover", "/subscriptions/00000000-0000-0000-0000-000000000000/recover",
		"/deliveries/999999/replay", "/deliveries/not-a-number/replay"} {
		p := b.post(path, since)
		assert.Equal(t, http.StatusNotFound, p.status, path)
		assert.Contains(t, p.body, "belongs to another account", path)
	}
}

func TestOutageFormsNeedTheSessionTokenAndOrigin(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	other := e.subscription(acc.ID, "https://example.com/paused")
	ctx := context.Background()
	_, err := e.db.PauseSubscription(ctx, acc.ID, other.ID, "maintenance")
	require.NoError(t, err)
	d, err := e.db.CreateTestDelivery(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	b := e.browser()
	b.signIn(acc.APIKey)
	b.get("/subscriptions/" + sub.ID)

	forms := map[string]url.Values{
		"/subscriptions/" + sub.ID + "/pause":         {"reason": {"x"}},
		"/subscriptions/" + other.ID + "/resume":      {},
		"/subscriptions/" + sub.ID + "/recover":       {"since": {formTime(time.Now().Add(-time.Hour))}},
		"/deliveries/" + fmt.Sprint(d.ID) + "/replay": {},
	}
	for path, form := range forms {
		for name, token := range map[string]string{"no token": "", "wrong token": b.csrf + "x"} {
			f := url.Values{"csrf": {token}}
			for k, v := range form {
				f[k] = v
			}
			p := b.post(path, f)
			assert.Equal(t, http.StatusForbidden, p.status, path, name)
			assert.Contains(t, p.body, "Request refused", path, name)
		}
		assert.Equal(t, http.StatusForbidden, b.post(path, form, "Origin", "https://evil.example").status, path)
	}
	got, err := e.db.FindSubscription(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.False(t, got.Paused)
	got, err = e.db.FindSubscription(ctx, acc.ID, other.ID)
	require.NoError(t, err)
	assert.True(t, got.Paused)
	recoveries, err := e.db.ListRecoveries(ctx, acc.ID, sub.ID)
	require.NoError(t, err)
	assert.Empty(t, recoveries)
	listed, err := e.db.ListDeliveries(ctx, acc.ID, hookflow.DeliveryFilter{SubscriptionID: sub.ID})
	require.NoError(t, err)
	assert.Len(t, listed.Data, 1)

	// With the token, the same forms work.
	assert.Equal(t, http.StatusSeeOther, b.post("/subscriptions/"+sub.ID+"/pause", url.Values{"reason": {"x"}}, "Origin", e.url).status)
	assert.Equal(t, http.StatusSeeOther, b.post("/subscriptions/"+other.ID+"/resume", nil).status)
}

func TestSubscriptionFormNamesTheOperationalEventTypes(t *testing.T) {
	e := newDashboard(t, nil)
	acc := e.account("acme")
	sub := e.subscription(acc.ID, "https://example.com/hooks")
	b := e.browser()
	b.signIn(acc.APIKey)
	for _, path := range []string{"/subscriptions/new", "/subscriptions/" + sub.ID + "/edit"} {
		p := b.get(path)
		for _, t2 := range hookflow.OperationalEventTypes {
			assert.Contains(t, p.body, "<code>"+t2+"</code>", path)
		}
		assert.Contains(t, p.body, "<code>hookflow.*</code>", path)
		assert.Contains(t, p.body, "<code>*</code> does not include them", path)
	}

	// Naming them is accepted.
	p := b.post("/subscriptions", url.Values{"url": {"https://example.com/ops"}, "event_types": {"hookflow.*, lead.created"},
		"active": {"on"}, "timeout": {"30"}, "max_retries": {"3"}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
}
