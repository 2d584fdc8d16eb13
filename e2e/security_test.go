package e2e

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestPrivateEndpointsRefusedAtCreateAndAtDial(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_ALLOW_PRIVATE_NETWORKS=false"}})
	key := app.NewAccount("acme")
	hostile := []string{
		"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://[::1]/hook", "http://10.1.2.3/hook",
		"http://172.16.0.1/hook", "http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data",
		"http://[fd00:ec2::254]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/", "http://[ff02::1]/",
		"http://[::ffff:127.0.0.1]/", "http://[::ffff:a9fe:a9fe]/", "http://[2002:7f00:1::]/", "http://[64:ff9b::7f00:1]/",
		"http://[fe80::1]/", "http://100.64.0.1/", "http://2130706433/", "http://0x7f.0.0.1/",
		"ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "http://user:pass@example.com/",
	}
	for _, url := range hostile {
		r := app.Do("POST", "/v1/subscriptions", key, map[string]any{"url": url})
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "url") {
			t.Errorf("POST subscription %s: %d %s, want 422 naming url", url, r.Status, r.Body)
		}
	}
	var n int
	if err := app.DB.Get(&n, `SELECT count(*) FROM subscriptions`); err != nil || n != 0 {
		t.Fatalf("%d subscriptions stored (%v), want none", n, err)
	}
	recordReliability("security", "SSRF: private, loopback and non-HTTP endpoint URLs refused at create", resultOf(t),
		map[string]int{"urls_tried": len(hostile), "refused": len(hostile) - n, "stored": n})
	// A URL that was allowed when saved but resolves to loopback when dialled (DNS
	// rebinding, or a policy change) is refused again at dial time.
	rcv := newReceiver(t, always(200))
	var accountID string
	if err := app.DB.Get(&accountID, `SELECT id FROM accounts`); err != nil {
		t.Fatal(err)
	}
	if _, err := app.DB.Exec(`INSERT INTO subscriptions (id, account_id, url, event_types, timeout_seconds, max_retries, secret_key)
		VALUES (gen_random_uuid(), $1, $2, '{*}', 5, 0, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw')`, accountID, rcv.URL); err != nil {
		t.Fatal(err)
	}
	out := app.Publish(key, map[string]any{"event_type": "promoter.created"})
	d := app.WaitStatus(key, out.Deliveries[0].ID.String(), "failed", 30*time.Second)
	if !strings.Contains(d.LastError, "loopback") || len(rcv.Requests()) != 0 {
		t.Errorf("dial-time refusal: last_error %q, %d requests reached the endpoint", d.LastError, len(rcv.Requests()))
	}
	recordReliability("security", "SSRF: a stored URL resolving to loopback refused at dial time", resultOf(t),
		map[string]int{"attempts": d.Attempts, "requests_reached_endpoint": len(rcv.Requests())})
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	target := newReceiver(t, always(200))
	redirect := newReceiver(t, always(200))
	redirect.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/stolen", http.StatusTemporaryRedirect)
	})
	app.Subscribe(key, redirect.URL, map[string]any{"max_retries": 0})
	out := app.Publish(key, map[string]any{"event_type": "promoter.created"})
	d := app.WaitStatus(key, out.Deliveries[0].ID.String(), "failed", 30*time.Second)
	if d.ResponseCode == nil || *d.ResponseCode != http.StatusTemporaryRedirect || len(target.Requests()) != 0 {
		t.Errorf("redirect: code %v, %d requests followed it", d.ResponseCode, len(target.Requests()))
	}
	recordReliability("security", "redirects are not followed", resultOf(t),
		map[string]int{"response_code": intOr(d.ResponseCode, 0), "requests_followed": len(target.Requests())})
}

func TestIngestRateLimit(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_INGEST_RATE_PER_SECOND=5"}})
	key := app.NewAccount("acme")
	other := app.NewAccount("globex")
	limited := 0
	var retryAfter string
	for i := 0; i < 30; i++ {
		r := app.Do("POST", "/v1/events", key, map[string]any{"event_type": "promoter.created"})
		switch r.Status {
		case http.StatusAccepted:
		case http.StatusTooManyRequests:
			limited++
			retryAfter = r.Header.Get("Retry-After")
		default:
			t.Fatalf("POST /v1/events: %d %s", r.Status, r.Body)
		}
	}
	if limited == 0 {
		t.Fatalf("30 quick events at 5/s (burst 10) were never limited")
	}
	if secs, err := strconv.Atoi(retryAfter); err != nil || secs < 1 {
		t.Errorf("Retry-After = %q, want whole seconds ≥ 1", retryAfter)
	}
	// The limit is per account: another account is unaffected.
	app.MustDo(http.StatusAccepted, "POST", "/v1/events", other, map[string]any{"event_type": "promoter.created"})
	var events int
	_ = app.DB.Get(&events, `SELECT count(*) FROM events`)
	if events != 30-limited+1 {
		t.Errorf("%d events stored, want %d (rate-limited requests store nothing)", events, 30-limited+1)
	}
	t.Logf("30 events at 5/s: %d accepted, %d answered 429 (Retry-After %s)", 30-limited, limited, retryAfter)
	recordReliability("security", "ingest rate limit per account (5/s, burst 10)", resultOf(t),
		map[string]int{"posted": 30, "accepted": 30 - limited, "limited_429": limited, "retry_after_s": atoiOr(retryAfter, 0), "events_stored": events})
}

func TestGonePausesSubscriptionAndRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	app := startApp(t, AppOptions{})
	key := app.NewAccount("acme")
	gone := newReceiver(t, always(http.StatusGone))
	sub := app.Subscribe(key, gone.URL, map[string]any{"max_retries": 5, "event_types": []string{"a.b"}})
	out := app.Publish(key, map[string]any{"event_type": "a.b"})
	// One attempt; its retry is then held by the pause the 410 caused, and nothing more is
	// sent to the endpoint.
	d := app.WaitDelivery(key, out.Deliveries[0].ID.String(), 30*time.Second, func(d Delivery) bool {
		return d.WaitingReason != nil && *d.WaitingReason == "paused"
	})
	if d.Attempts != 1 || d.Status != "retrying" {
		t.Errorf("410: %s after %d attempts, want retrying (held) after 1", d.Status, d.Attempts)
	}
	var s struct {
		Active       bool   `json:"active"`
		Paused       bool   `json:"paused"`
		PausedReason string `json:"paused_reason"`
	}
	app.MustDo(http.StatusOK, "GET", "/v1/subscriptions/"+sub.ID, key, nil).JSON(t, &s)
	if !s.Active || !s.Paused || !strings.Contains(s.PausedReason, "410") {
		t.Errorf("after 410: active=%v paused=%v reason=%q", s.Active, s.Paused, s.PausedReason)
	}
	if again := app.Publish(key, map[string]any{"event_type": "a.b"}); len(again.Deliveries) != 1 {
		t.Errorf("a paused subscription must keep its events: %d deliveries", len(again.Deliveries))
	}
	if n := len(gone.Requests()); n != 1 {
		t.Errorf("the endpoint that answered 410 got %d requests, want 1", n)
	}
	recordReliability("security", "410 Gone pauses the subscription (events held, none lost)", resultOf(t),
		map[string]int{"attempts": d.Attempts, "subscription_paused": boolInt(s.Paused)})

	// 503 with Retry-After: 2 s pushes the retry past the 300 ms unit.
	busy := newReceiver(t, failTimes(1))
	busy.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(busy.Requests()) == 0 {
			busy.serve(&retryAfterWriter{ResponseWriter: w, after: "2"}, r)
			return
		}
		busy.serve(w, r)
	})
	app.Subscribe(key, busy.URL, map[string]any{"event_types": []string{"c.d"}})
	out = app.Publish(key, map[string]any{"event_type": "c.d"})
	app.WaitStatus(key, out.Deliveries[0].ID.String(), "delivered", 30*time.Second)
	reqs := busy.Requests()
	if gap := reqs[1].At.Sub(reqs[0].At); gap < 2*time.Second {
		t.Errorf("retry %v after a 503 with Retry-After: 2, want ≥ 2 s", gap)
	}
	recordReliability("security", "Retry-After on a 503 is honoured", resultOf(t),
		map[string]int{"retry_after_s": 2, "retry_gap_ms": int(reqs[1].At.Sub(reqs[0].At).Milliseconds()), "requests": len(reqs)})
}

// retryAfterWriter answers 503 with a Retry-After header whatever the handler writes.
type retryAfterWriter struct {
	http.ResponseWriter
	after string
}

func (w *retryAfterWriter) WriteHeader(int) {
	w.Header().Set("Retry-After", w.after)
	w.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
}
