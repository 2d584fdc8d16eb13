package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserWait bounds every wait for the page, generous for a shared 2-core machine.
const browserWait = 30 * time.Second

// TestBrowser drives the dashboard in a real headless Chromium against a real hookflow,
// Temporal and PostgreSQL. One hookflow serves every case; each case has its own account
// and, for the browser cases, its own fresh browser profile. The retry unit is an hour so
// a failing delivery stays "retrying" until the person presses Retry.
func TestBrowser(t *testing.T) {
	t.Parallel()
	embedder := reservePortalEmbedder(t)
	app := startApp(t, AppOptions{Env: append([]string{"HOOKFLOW_RETRY_UNIT=1h"}, embedder.env()...)})

	t.Run("SignInCreateSubscriptionAndSendTest", func(t *testing.T) { browserSignInCreateAndSendTest(t, app) })
	t.Run("RetryFailingDelivery", func(t *testing.T) { browserRetryFailingDelivery(t, app) })
	t.Run("FormErrorBesideFieldCreatesNothing", func(t *testing.T) { browserFormError(t, app) })
	t.Run("Fulfilments", func(t *testing.T) { browserFulfilments(t, app) })
	t.Run("CampaignWebhooksAndTestWebhook", func(t *testing.T) { browserCampaigns(t, app) })
	t.Run("PauseResumeRecoverAndReplay", func(t *testing.T) { browserPauseResumeRecoverAndReplay(t, app) })
	t.Run("EventsFindADelivery", func(t *testing.T) { browserEvents(t, app) })
	t.Run("EndpointHealth", func(t *testing.T) { browserEndpointHealth(t, app) })
	t.Run("FormWithoutCSRFTokenIsRefused", func(t *testing.T) { dashboardCSRF(t, app) })
	t.Run("OtherAccountsPagesAreNotFound", func(t *testing.T) { dashboardOtherAccount(t, app) })
	t.Run("PortalOpensOnceAndExpires", func(t *testing.T) { browserPortalOnce(t, app) })
	t.Run("PortalReadOnlyShowsNoActionAndRefusesChanges", func(t *testing.T) { browserPortalReadOnly(t, app) })
	t.Run("PortalFrameAncestorsAsConfigured", func(t *testing.T) { portalFrameHeaders(t, app, embedder) })
	t.Run("PortalInCrossSiteFrameOverHTTPS", func(t *testing.T) { browserPortalInFrame(t, app, embedder) })
}

func browserSignInCreateAndSendTest(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	rcv := newReceiver(t, always(http.StatusOK))
	tab := openBrowser(t)

	// A signed-out visit lands on the sign-in form.
	tab.navigate(app.URL + "/")
	tab.waitFor(`location.pathname === "/login" && !!document.querySelector("#api_key")`)
	tab.screenshot("signin.png")

	tab.do(chromedp.SendKeys(chromedp.ID("api_key"), "hfk_0123456789abcdef_not-the-key"),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	tab.waitText("#api_key-error", "not valid")

	tab.do(chromedp.SendKeys(chromedp.ID("api_key"), key), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	tab.waitText("h1", "Subscriptions")
	tab.waitText("main", "No subscriptions yet")

	tab.do(chromedp.Click(chromedp.CSS(`a[href="/subscriptions/new"]`)))
	tab.waitFor(`!!document.querySelector("#url")`)
	endpoint := rcv.URL + "/hooks"
	tab.do(
		chromedp.SendKeys(chromedp.ID("url"), endpoint),
		chromedp.SetValue(chromedp.ID("event_types"), "webhook.test, promoter.*"),
		chromedp.SetValue(chromedp.ID("description"), "Local receiver"),
		chromedp.SetValue(chromedp.ID("headers"), "X-Team: growth"),
		chromedp.Click(chromedp.CSS(`form.form button[type=submit]`)),
	)
	tab.waitText(".flash-notice", "Subscription created.")
	tab.waitText("h1", endpoint)

	tab.do(chromedp.Click(chromedp.ID("send-test")))
	tab.waitText(".flash-notice", "Test delivery queued")
	// No reload from the test: the page refreshes itself while the delivery is in flight.
	tab.waitText(".deliveries-table .badge", "delivered")
	tab.screenshot("subscription.png")

	reqs := rcv.Requests()
	if len(reqs) != 1 {
		t.Fatalf("receiver got %d requests, want the one test delivery", len(reqs))
	}
	var payload struct {
		EventType string         `json:"event_type"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(reqs[0].Body, &payload); err != nil || payload.EventType != "webhook.test" || payload.Data["test"] != true {
		t.Errorf("test delivery payload: %s (%v)", reqs[0].Body, err)
	}
	if got := reqs[0].Header.Get("X-Team"); got != "growth" {
		t.Errorf("custom header X-Team = %q, want growth", got)
	}

	// A second, paused subscription shows what the list looks like with more than one.
	app.Subscribe(key, rcv.URL+"/promoters", map[string]any{"event_types": []string{"promoter.*", "reward_created"},
		"active": false, "description": "Paused during the CRM migration", "max_retries": 5})
	tab.do(chromedp.Click(chromedp.CSS(`.mainnav a[href="/"]`)))
	tab.waitFor(`document.querySelectorAll("table.list tbody tr").length === 2`)
	tab.waitText("table.list", "disabled")
	tab.screenshot("subscriptions.png")
}

func browserRetryFailingDelivery(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	rcv := newReceiver(t, always(http.StatusInternalServerError))
	app.Subscribe(key, rcv.URL+"/leads", map[string]any{"event_types": []string{"lead.*"}, "max_retries": 5,
		"description": "CRM sync"})
	out := app.Publish(key, map[string]any{"event_type": "lead.created", "action": "created", "entity_type": "lead",
		"entity_id": "L-1042", "data": map[string]any{"email": "sam@example.com", "source": "spring-campaign"}})
	if len(out.Deliveries) != 1 {
		t.Fatalf("ingest answer: %+v", out)
	}
	id := out.Deliveries[0].ID.String()
	app.WaitDelivery(key, id, browserWait, func(d Delivery) bool { return d.Status == "retrying" && d.Attempts == 1 })

	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.navigate(app.URL + "/deliveries/" + id)
	tab.waitText("#delivery-status", "retrying")
	tab.waitFor(`document.querySelectorAll("table.attempts tbody tr").length === 1`)
	tab.waitText("table.attempts", "500")
	tab.waitText("main", "endpoint answered 500")
	tab.screenshot("delivery-retrying.png")

	rcv.SetScript(always(http.StatusOK))
	tab.do(chromedp.Click(chromedp.ID("retry")))
	tab.waitText(".flash-notice", "Retry requested")
	tab.waitText("#delivery-status", "delivered")
	tab.waitFor(`document.querySelectorAll("table.attempts tbody tr").length === 2`)
	tab.waitText("table.attempts tbody tr:nth-child(2)", "manual")
	tab.waitText("table.attempts tbody tr:nth-child(2)", "200")
	tab.waitFor(`!document.querySelector("#retry")`)
	tab.screenshot("delivery-delivered.png")

	d := app.Delivery(key, id)
	if d.Status != "delivered" || d.Attempts != 2 || len(d.AttemptLog) != 2 || d.AttemptLog[1].Trigger != "manual" {
		t.Errorf("after the retry: status %s, attempts %d, log %+v", d.Status, d.Attempts, d.AttemptLog)
	}
}

func browserFormError(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.navigate(app.URL + "/subscriptions/new")
	tab.waitFor(`!!document.querySelector("#url")`)
	tab.do(
		chromedp.SendKeys(chromedp.ID("url"), "https://hooks.example.com/referrals"),
		chromedp.SetValue(chromedp.ID("event_types"), "lead.*, reward_created"),
		chromedp.SetValue(chromedp.ID("timeout"), "500"),
		chromedp.Click(chromedp.CSS(`form.form button[type=submit]`)),
	)
	tab.waitText("#timeout-error", "must be between 1 and 120 seconds")
	// The error sits in the timeout field's own block, and what was typed is kept.
	tab.waitFor(`document.querySelector("#timeout-error").closest(".field").querySelector("#timeout") !== null`)
	tab.waitFor(`document.querySelector("#timeout").value === "500"`)
	tab.waitFor(`document.querySelector("#url").value === "https://hooks.example.com/referrals"`)
	tab.waitFor(`document.querySelector("#event_types").value === "lead.*, reward_created"`)
	tab.screenshot("form-error.png")

	tab.do(
		chromedp.SetValue(chromedp.ID("url"), "ftp://x"),
		chromedp.SetValue(chromedp.ID("timeout"), "30"),
		chromedp.Click(chromedp.CSS(`form.form button[type=submit]`)),
	)
	tab.waitText("#url-error", "must be an http or https URL")
	tab.waitFor(`!document.querySelector("#timeout-error")`)

	var list struct {
		Data []Subscription `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions", key, nil).JSON(t, &list)
	if len(list.Data) != 0 {
		t.Errorf("a rejected form created %d subscriptions", len(list.Data))
	}
}

func browserFulfilments(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	paid := newReceiver(t, always(http.StatusOK))
	later := newReceiver(t, always(http.StatusAccepted))
	broken := newReceiver(t, always(http.StatusBadGateway))
	var ids []string
	for _, rcv := range []*Receiver{paid, later, broken} {
		camp := app.campaign(key, map[string]string{"kind": "fulfilment", "url": rcv.URL})
		ids = append(ids, app.fulfilment(key, camp.ID).ID)
	}
	app.waitFulfilment(key, ids[0], browserWait, func(f Fulfilment) bool { return f.Status == "completed" })
	waitRequests(t, later, 1, browserWait)
	app.waitFulfilment(key, ids[2], browserWait, func(f Fulfilment) bool { return f.HasIssues })

	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.do(chromedp.Click(chromedp.CSS(`.mainnav a[href="/fulfilments"]`)))
	tab.waitText("h1", "Fulfilments")
	tab.waitFor(`document.querySelectorAll("table.list tbody tr").length === 3`)
	tab.waitText("table.list", "completed")
	tab.waitText("table.list", "issues")
	tab.screenshot("fulfilments.png")

	tab.do(chromedp.SetValue(chromedp.ID("issues-filter"), "yes"), chromedp.Submit(chromedp.ID("issues-filter")))
	tab.waitFor(`location.search.includes("issues=yes")`)
	tab.waitFor(`document.querySelectorAll("table.list tbody tr").length === 1`)
	tab.waitText("table.list", "issues")

	// The row leads to the fulfilment's page: its facts and its deliveries.
	tab.do(chromedp.Click(chromedp.CSS(`table.list tbody tr a.badge`)))
	tab.waitFor(`location.pathname === "/fulfilments/` + ids[2] + `"`)
	tab.waitText("#fulfilment-has-issues", "yes")
	tab.waitText("#fulfilment-amount", "2 free_months")
	tab.waitText("#fulfilment-date-paid", "not yet")
	tab.waitText(".deliveries-table", broken.URL)
	tab.waitText(".deliveries-table", "failed")
	tab.waitFor(`document.querySelector(".deliveries-table tbody tr td.num").textContent.trim() === "8"`)
	tab.screenshot("fulfilment.png")
	tab.navigate(app.URL + "/fulfilments/" + ids[0])
	tab.waitText("#fulfilment-status", "completed")
	tab.waitFor(`document.querySelector("#fulfilment-date-paid time") !== null`)
}

func browserCampaigns(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	rcv := newReceiver(t, always(http.StatusOK))
	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.do(chromedp.Click(chromedp.CSS(`.mainnav a[href="/campaigns"]`)))
	tab.waitText("h1", "Campaigns")
	tab.waitText("main", "No campaigns yet")

	// Create with the client's own id.
	tab.do(chromedp.SetValue(chromedp.ID("campaign-name"), "Spring referrals"),
		chromedp.SetValue(chromedp.ID("campaign-id"), "7"),
		chromedp.Click(chromedp.ID("create-campaign")))
	tab.waitFor(`location.pathname === "/campaigns/7"`)
	tab.waitText(".flash-notice", "Campaign created.")
	tab.waitText("#campaign-id", "7")
	// The same id again is refused beside the field.
	tab.navigate(app.URL + "/campaigns")
	tab.do(chromedp.SetValue(chromedp.ID("campaign-name"), "Again"), chromedp.SetValue(chromedp.ID("campaign-id"), "7"),
		chromedp.Click(chromedp.ID("create-campaign")))
	tab.waitText("#id-error", "already has a campaign")
	tab.navigate(app.URL + "/campaigns/7")

	// Two URLs, one of them invalid: the error shows beside it and nothing is saved.
	tab.do(chromedp.SetValue(chromedp.ID("url_0"), rcv.URL+"/legacy"),
		chromedp.SetValue(chromedp.ID("kind_1"), "fulfilment"), chromedp.SetValue(chromedp.ID("url_1"), "ftp://x"),
		chromedp.Click(chromedp.ID("save-webhooks")))
	tab.waitText("#url_1-error", "must be an http or https URL")
	tab.waitFor(`document.querySelector("#url_0").value === "` + rcv.URL + `/legacy"`)
	var stored Campaign
	app.MustDo(http.StatusOK, "GET", "/v1/campaigns/7", key, nil).JSON(t, &stored)
	if len(stored.Webhooks) != 0 {
		t.Fatalf("a rejected form saved %d URLs", len(stored.Webhooks))
	}
	tab.screenshot("campaign-form-error.png")
	tab.do(chromedp.SetValue(chromedp.ID("url_1"), rcv.URL+"/fulfil"), chromedp.Click(chromedp.ID("save-webhooks")))
	tab.waitText(".flash-notice", "Webhook URLs saved.")
	app.MustDo(http.StatusOK, "GET", "/v1/campaigns/7", key, nil).JSON(t, &stored)
	if len(stored.Webhooks) != 2 || stored.Webhooks[1].Kind != "fulfilment" {
		t.Fatalf("saved URLs: %+v", stored.Webhooks)
	}

	// Test webhook: a signed test request reaches the URL; the page follows it to delivered.
	tab.do(chromedp.Click(chromedp.CSS(`#secret summary`)))
	secret := tab.text("#secret-key")
	tab.do(chromedp.Click(chromedp.CSS(`button.test-webhook[data-webhook="` + stored.Webhooks[0].ID + `"]`)))
	tab.waitText(".flash-notice", "Test webhook queued")
	tab.waitText(".deliveries-table .badge", "delivered")
	tab.waitText(".deliveries-table", rcv.URL+"/legacy")
	reqs := rcv.Requests()
	if len(reqs) != 1 || !strings.Contains(string(reqs[0].Body), `"data":{"test":true}`) {
		t.Fatalf("test webhook: %d requests %v", len(reqs), reqs)
	}
	verify(t, strings.TrimSpace(secret), reqs[0])
	tab.screenshot("campaign.png")

	// Its delivery page names the URL and leads back to the campaign.
	tab.do(chromedp.Click(chromedp.CSS(`.deliveries-table tbody tr a.badge`)))
	tab.waitText("#campaign-webhook-url", rcv.URL+"/legacy")
	tab.waitText("nav.crumbs", "Spring referrals")
	tab.do(chromedp.Click(chromedp.CSS(`nav.crumbs a[href="/campaigns/7"]`)))
	tab.waitFor(`location.pathname === "/campaigns/7"`)

	// Rotate: a new secret, the old one still signing for a while.
	tab.do(chromedp.Click(chromedp.ID("rotate-campaign-secret")))
	tab.waitText(".flash-notice", "Secret rotated.")
	rotated := tab.text("#secret-key")
	if strings.TrimSpace(rotated) == strings.TrimSpace(secret) || !strings.HasPrefix(strings.TrimSpace(rotated), "whsec_") {
		t.Fatalf("rotated secret %q (was %q)", rotated, secret)
	}
	tab.waitText("#secret", "Replaced secrets keep signing")

	// Remove a URL by clearing it; filter the deliveries by status.
	tab.waitFor(`(document.querySelector("#url_1").value = "") === ""`)
	tab.do(chromedp.Click(chromedp.ID("save-webhooks")))
	tab.waitText(".flash-notice", "Webhook URLs saved.")
	app.MustDo(http.StatusOK, "GET", "/v1/campaigns/7", key, nil).JSON(t, &stored)
	if len(stored.Webhooks) != 1 {
		t.Fatalf("after removing one: %+v", stored.Webhooks)
	}
	tab.do(chromedp.SetValue(chromedp.ID("status-filter"), "failed"), chromedp.Submit(chromedp.ID("status-filter")))
	tab.waitText("main", "No deliveries match this filter.")
	tab.navigate(app.URL + "/campaigns")
	tab.waitText("table.campaigns-table", "Spring referrals")
	tab.screenshot("campaigns.png")
}

// browserPauseResumeRecoverAndReplay walks through an endpoint's outage: pause it, let
// events pile up held, resume and see them delivered, ask for a recovery, and replay an
// event from its delivery's page.
func browserPauseResumeRecoverAndReplay(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	rcv := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, rcv.URL+"/crm", map[string]any{"event_types": []string{"lead.*"}, "description": "CRM sync"})
	tab := openBrowser(t)
	tab.signIn(app, key)
	tab.navigate(app.URL + "/subscriptions/" + sub.ID)

	tab.do(chromedp.SendKeys(chromedp.ID("pause-reason"), "CRM maintenance"), chromedp.Click(chromedp.ID("pause-button")))
	tab.waitText(".flash-notice", "Subscription paused.")
	tab.waitText("#paused-reason", "CRM maintenance")
	tab.waitText("#held-count", "0")

	var ids []string
	for i := 1; i <= 3; i++ {
		out := app.Publish(key, map[string]any{"event_type": "lead.created", "action": "created", "entity_type": "lead",
			"entity_id": fmt.Sprintf("L-%d", 1040+i), "data": map[string]any{"email": fmt.Sprintf("lead%d@example.com", i)}})
		if len(out.Deliveries) != 1 {
			t.Fatalf("ingest answer: %+v", out)
		}
		ids = append(ids, out.Deliveries[0].ID.String())
	}
	for _, id := range ids {
		app.WaitDelivery(key, id, browserWait, func(d Delivery) bool { return d.WaitingReason != nil && *d.WaitingReason == "paused" })
	}
	if n := len(rcv.Requests()); n != 0 {
		t.Fatalf("the paused endpoint got %d requests", n)
	}
	// Held deliveries do not refresh the page (they change only on resume): reload it.
	tab.navigate(app.URL + "/subscriptions/" + sub.ID)
	tab.waitText("#held-count", "3")
	tab.waitFor(`document.querySelectorAll(".deliveries-table .badge-paused").length === 3`)
	tab.screenshot("subscription-paused.png")

	tab.do(chromedp.Click(chromedp.ID("resume")))
	tab.waitText(".flash-notice", "Subscription resumed.")
	tab.waitFor(`!document.querySelector("#paused-banner")`)
	// No reload from the test: the page follows the released deliveries by itself.
	tab.waitFor(`document.querySelectorAll(".deliveries-table .badge-delivered").length === 3`)
	waitRequests(t, rcv, 3, browserWait)

	// A window in the future is refused beside its field; a real one is listed with its
	// progress, and its workflow (nothing failed, so nothing to retry) completes.
	tab.do(chromedp.SetValue(chromedp.ID("recover-since"), "2099-01-01T09:00"), chromedp.Click(chromedp.ID("recover")))
	tab.waitText("#since-error", "is in the future")
	tab.waitFor(`document.querySelector("#recover-since").value === "2099-01-01T09:00"`)
	since := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	tab.do(chromedp.SetValue(chromedp.ID("recover-since"), since), chromedp.Click(chromedp.ID("recover")))
	tab.waitText(".flash-notice", "Recovery started")
	tab.waitText(".recoveries-table .badge", "completed")
	tab.waitText(".recoveries-table", "0 / 0")

	// Replay the first delivery's event from its page: a new delivery, same webhook-id.
	first := app.Delivery(key, ids[0])
	tab.navigate(app.URL + "/deliveries/" + ids[0])
	tab.waitText("#delivery-status", "delivered")
	tab.do(chromedp.Click(chromedp.ID("replay")))
	tab.waitText(".flash-notice", "Event replayed")
	tab.waitFor(`location.pathname.startsWith("/deliveries/") && location.pathname !== "/deliveries/` + ids[0] + `"`)
	tab.waitText("#delivery-status", "delivered")
	tab.screenshot("delivery-replayed.png")
	reqs := waitRequests(t, rcv, 4, browserWait)
	same := 0
	for _, r := range reqs {
		if r.Header.Get("webhook-id") == first.EventID {
			same++
		}
	}
	if same != 2 {
		t.Errorf("requests with the replayed event's webhook-id %s: %d, want 2 (the first and the replay)", first.EventID, same)
	}
}

func dashboardCSRF(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	sub := app.Subscribe(key, "http://127.0.0.1:9/hooks", nil)
	c := signInHTTP(t, app, key)
	page := c.get("/subscriptions/" + sub.ID)
	if page.status != http.StatusOK || c.csrf == "" {
		t.Fatalf("subscription page: %d, csrf %q", page.status, c.csrf)
	}

	for name, form := range map[string]url.Values{
		"no token":    {},
		"empty token": {"csrf": {""}},
		"wrong token": {"csrf": {c.csrf[:len(c.csrf)-2] + "xx"}},
	} {
		p := c.post("/subscriptions/"+sub.ID+"/delete", form)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "Request refused") {
			t.Errorf("%s: status %d, want a 403 page", name, p.status)
		}
	}
	p := c.post("/subscriptions/"+sub.ID+"/delete", url.Values{"csrf": {c.csrf}}, "Origin", "https://evil.example")
	if p.status != http.StatusForbidden {
		t.Errorf("foreign Origin with the right token: status %d, want 403", p.status)
	}
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID, key, nil)

	p = c.post("/subscriptions/"+sub.ID+"/delete", url.Values{"csrf": {c.csrf}}, "Origin", app.URL)
	if p.status != http.StatusSeeOther {
		t.Fatalf("delete with the token: status %d: %s", p.status, p.body)
	}
	app.MustDo(http.StatusNotFound, "GET", "/v1/subscriptions/"+sub.ID, key, nil)
}

func dashboardOtherAccount(t *testing.T, app *App) {
	keyA := app.NewAccount("Account A")
	keyB := app.NewAccount("Account B")
	rcv := newReceiver(t, always(http.StatusOK))
	subA := app.Subscribe(keyA, rcv.URL+"/a-private-endpoint", nil)
	out := app.Publish(keyA, map[string]any{"event_type": "lead.created"})
	deliveryA := out.Deliveries[0].ID.String()
	app.WaitStatus(keyA, deliveryA, "delivered", browserWait)

	b := signInHTTP(t, app, keyB)
	if home := b.get("/"); strings.Contains(home.body, "a-private-endpoint") {
		t.Errorf("B's list shows A's subscription")
	}
	campaignA := app.campaign(keyA, map[string]string{"kind": "fulfilment", "url": rcv.URL + "/a-private-endpoint"})
	fulfilmentA := app.fulfilment(keyA, campaignA.ID)
	app.waitFulfilment(keyA, fulfilmentA.ID, browserWait, func(f Fulfilment) bool { return f.Status == "completed" })
	// The fulfilment_pending delivery that lost the race to complete it ends unsent; once
	// every delivery of A's has ended, what A's endpoints got is settled.
	deadline := time.Now().Add(browserWait)
	for {
		var page struct {
			Data []Delivery `json:"data"`
		}
		app.MustDo(http.StatusOK, "GET", "/v1/deliveries", keyA, nil).JSON(t, &page)
		open := 0
		for _, d := range page.Data {
			if d.Status == "pending" || d.Status == "retrying" {
				open++
			}
		}
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of A's deliveries still open", open)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := len(rcv.Requests())
	for _, path := range []string{"/subscriptions/" + subA.ID, "/subscriptions/" + subA.ID + "/edit",
		"/subscriptions/" + subA.ID + "/delete", "/deliveries/" + deliveryA,
		"/subscriptions/00000000-0000-0000-0000-000000000000", "/deliveries/not-a-uuid",
		"/campaigns/" + campaignA.ID, "/campaigns/" + campaignA.ID + "/delete", "/fulfilments/" + fulfilmentA.ID} {
		p := b.get(path)
		if p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
			t.Errorf("GET %s as B: status %d, want the 404 page", path, p.status)
		}
		if text := html.UnescapeString(p.body); strings.Contains(text, "a-private-endpoint") || strings.Contains(text, subA.SecretKey) {
			t.Errorf("GET %s as B shows A's data", path)
		}
	}
	for _, path := range []string{"/subscriptions/" + subA.ID + "/test", "/subscriptions/" + subA.ID + "/rotate-secret",
		"/deliveries/" + deliveryA + "/retry", "/deliveries/" + deliveryA + "/replay",
		"/subscriptions/" + subA.ID + "/pause", "/subscriptions/" + subA.ID + "/resume", "/subscriptions/" + subA.ID + "/recover",
		"/campaigns/" + campaignA.ID + "/rotate-secret", "/campaigns/" + campaignA.ID + "/delete",
		"/campaigns/" + campaignA.ID + "/webhooks", "/campaigns/" + campaignA.ID + "/webhooks/" + campaignA.Webhooks[0].ID + "/test"} {
		if p := b.post(path, url.Values{"csrf": {b.csrf}}); p.status != http.StatusNotFound {
			t.Errorf("POST %s as B: status %d, want 404", path, p.status)
		}
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(rcv.Requests()); n != before {
		t.Errorf("A's endpoints got %d requests after B's, want none (%d before)", n-before, before)
	}
	app.MustDo(http.StatusOK, "GET", "/v1/campaigns/"+campaignA.ID, keyA, nil)
}

// tab is one page of a headless Chromium with a profile of its own.
type tab struct {
	t   *testing.T
	ctx context.Context
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	t.Fatal("chromium is not installed: run scripts/ensure-chromium.sh (make test does)")
	return ""
}

// openBrowser starts a headless Chromium; options add to the defaults (a test that
// serves TLS with a test certificate adds chromedp.IgnoreCertErrors).
func openBrowser(t *testing.T, options ...chromedp.ExecAllocatorOption) *tab {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), append([]chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
	}, options...)...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Cleanups run last-in first-out: the browser is gone before its profile directory
	// is removed.
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first call starts the browser. A deadline on it would close the browser when
	// the deadline passes, so a watchdog bounds the start instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx, chromedp.EmulateViewport(1280, 860)) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start chromium: %v", err)
		}
	case <-time.After(browserWait):
		cancel()
		t.Fatalf("chromium did not start within %s", browserWait)
	}
	return &tab{t: t, ctx: ctx}
}

func (b *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v\npage: %s", err, b.pageText())
	}
}

func (b *tab) navigate(u string) {
	b.t.Helper()
	b.do(chromedp.Navigate(u))
}

// waitFor polls a JavaScript condition until it holds. It polls from Go rather than in
// the page because pages reload themselves while deliveries are in flight, which would
// end a wait running inside the page.
func (b *tab) waitFor(condition string) {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](condition))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the page did not reach %s within %s (last error: %v)\npage: %s", condition, browserWait, err, b.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitText waits until the first element matching selector contains text.
func (b *tab) waitText(selector, text string) {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	want, _ := json.Marshal(text)
	b.waitFor(fmt.Sprintf(`(() => { const el = document.querySelector(%s); return !!el && el.textContent.includes(%s); })()`, sel, want))
}

// text is the text of the first element matching selector.
func (b *tab) text(selector string) string {
	b.t.Helper()
	sel, _ := json.Marshal(selector)
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%s).textContent`, sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", selector, err)
	}
	return text
}

func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText`))
	if err != nil {
		return fmt.Sprintf("(unreadable: %v)", err)
	}
	return text
}

func (b *tab) signIn(app *App, key string) {
	b.t.Helper()
	b.navigate(app.URL + "/login")
	b.waitFor(`!!document.querySelector("#api_key")`)
	b.do(chromedp.SendKeys(chromedp.ID("api_key"), key), chromedp.Click(chromedp.CSS(`button[type=submit]`)))
	b.waitFor(`location.pathname === "/" && !!document.querySelector(".mainnav")`)
}

// screenshot saves the whole page as a PNG in the test's directory and, when
// HOOKFLOW_SCREENSHOTS names a directory, there too under name.
func (b *tab) screenshot(name string) {
	b.t.Helper()
	b.capture(name, chromedp.FullScreenshot(100))
}

// capture saves what the screenshot action takes, as screenshot does.
func (b *tab) capture(name string, shot chromedp.Action[[]byte]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.t.TempDir(), name), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	if dir := os.Getenv("HOOKFLOW_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			b.t.Fatal(err)
		}
	}
}

// dashboardClient is a cookie-keeping HTTP client for the dashboard that does not follow
// redirects, for the checks that need no browser.
type dashboardClient struct {
	t    *testing.T
	base string
	http *http.Client
	csrf string
}

type dashboardPage struct {
	status int
	body   string
}

var csrfInput = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func signInHTTP(t *testing.T, app *App, key string) *dashboardClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &dashboardClient{t: t, base: app.URL, http: &http.Client{Jar: jar, Timeout: browserWait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	c.get("/login")
	if p := c.post("/login", url.Values{"api_key": {key}, "csrf": {c.csrf}}); p.status != http.StatusSeeOther {
		t.Fatalf("sign in: status %d: %s", p.status, p.body)
	}
	if p := c.get("/"); p.status != http.StatusOK {
		t.Fatalf("home after sign-in: status %d", p.status)
	}
	return c
}

func (c *dashboardClient) do(req *http.Request) dashboardPage {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(raw); m != nil {
		c.csrf = string(m[1])
	}
	return dashboardPage{status: resp.StatusCode, body: string(raw)}
}

func (c *dashboardClient) get(path string) dashboardPage {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *dashboardClient) post(path string, form url.Values, headers ...string) dashboardPage {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}
