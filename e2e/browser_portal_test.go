package e2e

import (
	"context"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// portalLinkTTL is short so that a case can watch a link expire; the other cases open
// their links as soon as they are minted.
const portalLinkTTL = 6 * time.Second

// portalEmbedder is the API client's product: a site of its own, on another host name
// than hookflow's (localhost against 127.0.0.1), so that to the browser a portal in its
// page is a cross-site frame. Its port is taken before hookflow starts, because hookflow
// is told at start which origins may frame the portal.
type portalEmbedder struct {
	listener net.Listener
	origin   string
}

func reservePortalEmbedder(t *testing.T) *portalEmbedder {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return &portalEmbedder{listener: l, origin: fmt.Sprintf("https://localhost:%d", l.Addr().(*net.TCPAddr).Port)}
}

// env is what hookflow needs to know of the embedder; no other case mints portal links,
// so no other case sees a difference.
func (e *portalEmbedder) env() []string {
	return []string{"HOOKFLOW_PORTAL_FRAME_ANCESTORS=" + e.origin, "HOOKFLOW_PORTAL_LINK_TTL=" + portalLinkTTL.String()}
}

// serve starts the product's site over TLS: its webhooks settings page frames the portal
// link given in the query, and it serves its logo.
func (e *portalEmbedder) serve(t *testing.T) {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/logo.svg", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/svg+xml")
		fmt.Fprint(w, `<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">`+
			`<rect width="64" height="64" rx="14" fill="#7b2cbf"/><circle cx="24" cy="32" r="10" fill="#fff"/>`+
			`<circle cx="42" cy="32" r="10" fill="none" stroke="#fff" stroke-width="5"/></svg>`)
	})
	mux.HandleFunc("/settings/webhooks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, embedderPage, html.EscapeString(r.URL.Query().Get("portal")))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = e.listener
	srv.StartTLS()
	t.Cleanup(srv.Close)
}

const embedderPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Webhooks · Referral Cloud</title>
<style>
body { margin: 0; font-family: system-ui, sans-serif; background: #f6f3fc; color: #231942; }
header { display: flex; align-items: center; gap: 12px; padding: 12px 28px; background: #fff; border-bottom: 1px solid #e4def3; }
header img { height: 32px; } header strong { font-size: 1.15rem; } header span { margin-left: auto; color: #5e548e; font-size: 0.9rem; }
.layout { display: flex; } nav { width: 190px; padding: 24px 16px; }
nav a { display: block; padding: 8px 12px; color: #5e548e; text-decoration: none; border-radius: 6px; }
nav a.active { background: #e9e3fb; color: #231942; font-weight: 600; }
main { flex: 1; padding: 24px 28px 28px 8px; } h1 { margin: 0 0 4px; font-size: 1.4rem; } p { margin: 0 0 16px; color: #5e548e; }
iframe { width: 100%%; height: 670px; border: 1px solid #e4def3; border-radius: 10px; background: #fff; }
</style></head>
<body>
<header><img src="/logo.svg" alt=""><strong>Referral Cloud</strong><span>Pat Doe · Acme Inc.</span></header>
<div class="layout">
<nav><a href="#">Dashboard</a><a href="#">Campaigns</a><a href="#">Partners</a><a class="active" href="#">Webhooks</a><a href="#">Settings</a></nav>
<main><h1>Webhooks</h1><p>Every event Referral Cloud sends to your endpoints, each attempt and its answer.</p>
<iframe id="portal" title="Webhooks" src="%s"></iframe></main>
</div>
</body></html>`

// newPortalProxy is a TLS reverse proxy in front of hookflow that says so
// (X-Forwarded-Proto: https), as a production load balancer would.
func newPortalProxy(t *testing.T, app *App) *httptest.Server {
	t.Helper()
	target, err := url.Parse(app.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.SetXForwarded()
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewTLSServer(proxy)
	t.Cleanup(srv.Close)
	return srv
}

type portalLink struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expires_at"`
}

func mintPortalLink(t *testing.T, app *App, key string, body map[string]any, headers ...string) portalLink {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	var link portalLink
	app.MustDo(http.StatusCreated, "POST", "/v1/portal-links", key, body, headers...).JSON(t, &link)
	if !strings.Contains(link.URL, "/portal/hfp_") || time.Until(link.ExpiresAt) > portalLinkTTL+time.Second {
		t.Fatalf("portal link: %+v", link)
	}
	return link
}

// frame attaches to the cross-site iframe whose address starts with prefix. Chromium runs
// such a frame in a process of its own, a target the page's context does not reach.
func (b *tab) frame(prefix string) *tab {
	b.t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		infos, err := chromedp.Targets(b.ctx)
		for _, info := range infos {
			if info.Type == "iframe" && strings.HasPrefix(info.URL, prefix) {
				ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(info.TargetID))
				b.t.Cleanup(cancel)
				// The first run attaches for as long as its context lives, so it gets the
				// frame's own context, without a deadline; a watchdog bounds it instead.
				attached := make(chan error, 1)
				go func() { _, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("true")); attached <- err }()
				select {
				case err := <-attached:
					if err != nil {
						b.t.Fatalf("attach to the iframe at %s: %v", info.URL, err)
					}
				case <-time.After(browserWait):
					b.t.Fatalf("could not attach to the iframe at %s within %s", info.URL, browserWait)
				}
				return &tab{t: b.t, ctx: ctx}
			}
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("no iframe at %s within %s (last error: %v)\npage: %s", prefix, browserWait, err, b.pageText())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// eval runs JavaScript in the page and waits for the promise it may return.
func evalInPage[T any](b *tab, expression string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserWait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expression, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v\npage: %s", expression, err, b.pageText())
	}
	return v
}

// pageActions lists what on the page would change something: POST forms but signing
// out, buttons that are not a GET filter's (or a copy to the clipboard), and links to the
// create, edit and delete forms.
const pageActions = `(() => {
  const found = [];
  const posts = f => f.method.toLowerCase() === "post" && f.getAttribute("action") !== "/logout";
  for (const f of document.querySelectorAll("form")) if (posts(f)) found.push("form " + f.getAttribute("action"));
  for (const b of document.querySelectorAll("button, input[type=submit]")) {
    const f = b.closest("form");
    if ((!f || posts(f)) && !b.hasAttribute("data-copy")) found.push("button " + b.textContent.trim());
  }
  for (const a of document.querySelectorAll("a[href]")) {
    if (/\/(new|edit|delete)$/.test(new URL(a.href).pathname)) found.push("link " + a.getAttribute("href"));
  }
  return found.join(", ");
})()`

func browserPortalOnce(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	app.Subscribe(key, "http://127.0.0.1:9/portal-hooks", map[string]any{"description": "CRM sync"})
	tab := openBrowser(t)

	link := mintPortalLink(t, app, key, map[string]any{"brand_name": "Referral Cloud"})
	tab.navigate(link.URL)
	// No key was asked for; the token left the address bar.
	tab.waitFor(`location.pathname === "/" && !location.href.includes("hfp_") && !document.querySelector("#api_key")`)
	tab.waitText("main", "127.0.0.1:9/portal-hooks")
	tab.waitText(".brand", "Referral Cloud")
	tab.waitText(".account-name", "Acme Referrals")

	// A second open is refused, and leaves the open portal as it was.
	tab.navigate(link.URL)
	tab.waitText("h1", "This link cannot be opened")
	tab.waitFor(`!document.querySelector("#api_key")`)
	tab.navigate(app.URL + "/")
	tab.waitText("main", "127.0.0.1:9/portal-hooks")

	// A link not opened in time opens nothing.
	late := mintPortalLink(t, app, key, nil)
	time.Sleep(time.Until(late.ExpiresAt) + 300*time.Millisecond)
	tab.navigate(late.URL)
	tab.waitText("h1", "This link cannot be opened")
	tab.waitFor(`!document.querySelector("#api_key")`)
}

func browserPortalReadOnly(t *testing.T, app *App) {
	key := app.NewAccount("Acme Referrals")
	rcv := newReceiver(t, always(http.StatusInternalServerError))
	sub := app.Subscribe(key, rcv.URL+"/crm", map[string]any{"event_types": []string{"lead.*"}, "max_retries": 5})
	out := app.Publish(key, map[string]any{"event_type": "lead.created", "entity_type": "lead", "entity_id": "L-7"})
	if len(out.Deliveries) != 1 {
		t.Fatalf("ingest answer: %+v", out)
	}
	id := out.Deliveries[0].ID.String()
	app.WaitDelivery(key, id, browserWait, func(d Delivery) bool { return d.Status == "retrying" && d.Attempts == 1 })
	camp := app.campaign(key, map[string]string{"kind": "default", "url": rcv.URL + "/legacy"})
	app.MustDo(http.StatusAccepted, "POST", "/v1/campaigns/"+camp.ID+"/webhooks/"+camp.Webhooks[0].ID+"/test", key, nil)

	tab := openBrowser(t)
	link := mintPortalLink(t, app, key, map[string]any{"read_only": true, "brand_name": "Referral Cloud"})
	tab.navigate(link.URL)
	tab.waitText("#read-only", "read-only")
	// Each page, once what shows it is ready: the list, a subscription, a delivery, the
	// campaigns and a campaign.
	for _, page := range []struct{ path, ready string }{
		{"/", "table.list"},
		{"/subscriptions/" + sub.ID, "#pause"},
		{"/deliveries/" + id, "#delivery-status"},
		{"/campaigns", "table.campaigns-table"},
		{"/campaigns/" + camp.ID, ".deliveries-table .badge-failed"},
	} {
		tab.navigate(app.URL + page.path)
		tab.waitFor(fmt.Sprintf(`!!document.querySelector(%q)`, page.ready))
		if found := evalInPage[string](tab, pageActions); found != "" {
			t.Errorf("%s offers a read-only session: %s", page.path, found)
		}
	}
	tab.navigate(app.URL + "/subscriptions/" + sub.ID)
	tab.waitText("main", "A read-only session does not show it.")

	// Forged posts, with the session's cookie and its valid token, change nothing.
	deliveriesBefore := len(listDeliveries(t, app, key, ""))
	for _, path := range []string{"/subscriptions/" + sub.ID + "/pause", "/subscriptions/" + sub.ID + "/test",
		"/deliveries/" + id + "/retry", "/subscriptions/" + sub.ID + "/delete", "/campaigns/" + camp.ID + "/delete"} {
		evalInPage[bool](tab, fmt.Sprintf(forgedPost, path))
		tab.waitFor(fmt.Sprintf(`location.pathname === %q && document.querySelector("h1").textContent.includes("Read-only")`, path))
		if status := evalInPage[int](tab, `performance.getEntriesByType("navigation")[0].responseStatus`); status != http.StatusForbidden {
			t.Errorf("forged POST %s: status %d, want 403", path, status)
		}
	}
	var stored map[string]any
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID, key, nil).JSON(t, &stored)
	if stored["paused"] != false {
		t.Errorf("after the forged posts the subscription is %v", stored)
	}
	if d := app.Delivery(key, id); d.Attempts != 1 || len(d.AttemptLog) != 1 {
		t.Errorf("after a forged retry: %d attempts", d.Attempts)
	}
	if n := len(listDeliveries(t, app, key, "")); n != deliveriesBefore {
		t.Errorf("deliveries: %d before the forged posts, %d after", deliveriesBefore, n)
	}
	app.MustDo(http.StatusOK, "GET", "/v1/campaigns/"+camp.ID, key, nil)

	// Signing out is allowed, and says so without asking for a key.
	tab.do(chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)))
	tab.waitText("h1", "Signed out")
	tab.waitFor(`!document.querySelector("#api_key") && !document.querySelector(".mainnav")`)

	// The check above finds the actions a full session has.
	tab.signIn(app, key)
	tab.navigate(app.URL + "/subscriptions/" + sub.ID)
	tab.waitFor(`!!document.querySelector("#send-test")`)
	if found := evalInPage[string](tab, pageActions); !strings.Contains(found, "/test") || !strings.Contains(found, "/delete") {
		t.Errorf("a full session's subscription page offers: %s", found)
	}
}

// forgedPost submits a form the page does not offer to the path it is given, with the
// session's own CSRF token (the sign-out form's): what a person tampering with the page
// could send.
const forgedPost = `(() => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = %q;
  for (const [name, value] of Object.entries({csrf: document.querySelector("input[name=csrf]").value, reason: "forged"})) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.appendChild(input);
  }
  document.body.appendChild(form);
  form.submit();
  return true;
})()`

func listDeliveries(t *testing.T, app *App, key, query string) []Delivery {
	t.Helper()
	var page struct {
		Data []Delivery `json:"data"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/deliveries"+query, key, nil).JSON(t, &page)
	return page.Data
}

func portalFrameHeaders(t *testing.T, app *App, embedder *portalEmbedder) {
	key := app.NewAccount("Acme Referrals")
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: browserWait,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(u string) *http.Response {
		t.Helper()
		resp, err := client.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	want := "frame-ancestors " + embedder.origin + ";"

	entry := get(mintPortalLink(t, app, key, nil).URL)
	if entry.StatusCode != http.StatusSeeOther || !strings.Contains(entry.Header.Get("Content-Security-Policy"), want) ||
		entry.Header.Get("Referrer-Policy") != "no-referrer" || entry.Header.Get("X-Frame-Options") != "" {
		t.Errorf("portal entry: %d %v", entry.StatusCode, entry.Header)
	}
	home := get(app.URL + "/")
	if home.StatusCode != http.StatusOK || !strings.Contains(home.Header.Get("Content-Security-Policy"), want) ||
		home.Header.Get("X-Frame-Options") != "" {
		t.Errorf("a portal page: %d %v", home.StatusCode, home.Header)
	}

	// Every other page stays out of every frame: a key's session, and the sign-in form.
	signedIn := signInHTTP(t, app, key)
	for _, page := range []struct {
		client *http.Client
		path   string
	}{{signedIn.http, "/"}, {&http.Client{Timeout: browserWait}, "/login"}} {
		resp, err := page.client.Get(app.URL + page.path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if csp := resp.Header.Get("Content-Security-Policy"); resp.StatusCode != http.StatusOK ||
			!strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: %d %v", page.path, resp.StatusCode, resp.Header)
		}
	}
}

func browserPortalInFrame(t *testing.T, app *App, embedder *portalEmbedder) {
	embedder.serve(t)
	proxy := newPortalProxy(t, app)
	key := app.NewAccount("Acme Inc.")
	rcv := newReceiver(t, always(http.StatusOK))
	sub := app.Subscribe(key, rcv.URL+"/hooks/referrals", map[string]any{"description": "CRM sync",
		"event_types": []string{"lead.*", "reward_created"}})
	for i, event := range []string{"lead.created", "reward_created"} {
		out := app.Publish(key, map[string]any{"event_type": event, "entity_type": "lead", "entity_id": fmt.Sprint(1040 + i)})
		app.WaitStatus(key, out.Deliveries[0].ID, "delivered", browserWait)
	}
	tab := openBrowser(t, chromedp.IgnoreCertErrors)

	// Minted by the product's backend; the link names the proxy the browser reaches.
	proxyHost := strings.TrimPrefix(proxy.URL, "https://")
	link := mintPortalLink(t, app, key, map[string]any{"brand_name": "Referral Cloud", "logo_url": embedder.origin + "/logo.svg"},
		"X-Forwarded-Proto", "https", "X-Forwarded-Host", proxyHost)
	if !strings.HasPrefix(link.URL, proxy.URL+"/portal/") {
		t.Fatalf("link %s does not start with the proxy's %s", link.URL, proxy.URL)
	}
	tab.navigate(embedder.origin + "/settings/webhooks?portal=" + url.QueryEscape(link.URL))
	frame := tab.frame(proxy.URL)
	// The session's cookie came back inside the frame: the portal shows the account.
	frame.waitText("main", rcv.URL+"/hooks/referrals")
	frame.waitText(".brand-portal", "Referral Cloud")
	frame.waitFor(`(() => { const img = document.querySelector(".brand-logo"); return !!img && img.complete && img.naturalWidth > 0; })()`)

	// A form in the frame works: its token and Origin are the portal's own.
	frame.do(chromedp.Click(chromedp.CSS(`a[href="/subscriptions/` + sub.ID + `"]`)))
	frame.waitText("h1", rcv.URL+"/hooks/referrals")
	frame.do(chromedp.Click(chromedp.ID("send-test")))
	frame.waitText(".flash-notice", "Test delivery queued")
	frame.waitFor(`document.querySelectorAll(".deliveries-table .badge-delivered").length === 3`)
	waitRequests(t, rcv, 3, browserWait)

	// The product's page holds the portal's cookie in its partition, yet cannot post the
	// portal's forms: its Origin is not hookflow's.
	evalInPage[bool](tab, fmt.Sprintf(`fetch(%q, {method: "POST", mode: "no-cors", credentials: "include",
		body: new URLSearchParams({csrf: "guessed", reason: "from the embedding page"})}).then(() => true, () => true)`,
		proxy.URL+"/subscriptions/"+sub.ID+"/pause"))
	var stored map[string]any
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID, key, nil).JSON(t, &stored)
	if stored["paused"] != false {
		t.Errorf("a post from the embedding page paused the subscription: %v", stored)
	}
	// The viewport only, which the page fits in: capturing beyond it resizes the page, and
	// the frame, drawn by another process, can be caught laying itself out again.
	tab.capture("portal.png", chromedp.CaptureScreenshot())
}
