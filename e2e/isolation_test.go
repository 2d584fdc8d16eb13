package e2e

import (
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// heldEndpoint accepts requests and answers none until released (or until its
// subscription's timeout ends the attempt), counting how many it holds at once.
type heldEndpoint struct {
	*httptest.Server
	release           chan struct{}
	holding, received atomic.Int32
	mu                sync.Mutex
	maxHolding        int32
	stop              func()
}

func newHeldEndpoint(t *testing.T) *heldEndpoint {
	h := &heldEndpoint{release: make(chan struct{})}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.received.Add(1)
		n := h.holding.Add(1)
		h.mu.Lock()
		h.maxHolding = max(h.maxHolding, n)
		h.mu.Unlock()
		defer h.holding.Add(-1)
		select {
		case <-h.release:
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}))
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(h.release) }); h.Close() })
	h.stop = func() { once.Do(func() { close(h.release) }) }
	return h
}

// The noisy neighbour: one account's endpoint accepts connections and never answers; its
// burst of deliveries must not delay another account's.
func TestHangingEndpointDoesNotDelayAnotherAccount(t *testing.T) {
	app := startApp(t, AppOptions{Env: []string{"HOOKFLOW_ENDPOINT_CONCURRENCY=10"}})
	keyA, keyB := app.NewAccount("noisy"), app.NewAccount("quiet")
	hang := newHeldEndpoint(t)
	healthy := newReceiver(t, always(http.StatusOK))
	app.Subscribe(keyA, hang.URL, map[string]any{"timeout": 15, "max_retries": 0})
	app.Subscribe(keyB, healthy.URL, nil)

	var aDeliveries []string
	for i := 0; i < 150; i++ {
		out := app.Publish(keyA, map[string]any{"event_type": "referral.created", "data": map[string]any{"n": i}})
		aDeliveries = append(aDeliveries, out.Deliveries[0].ID.String())
	}
	// A's first attempts are in flight and hanging before B posts anything.
	waitFor(t, 10*time.Second, "A's endpoint to hold its attempts", func() bool { return hang.holding.Load() >= 10 })

	var bDeliveries []string
	for i := 0; i < 10; i++ {
		out := app.Publish(keyB, map[string]any{"event_type": "referral.created", "data": map[string]any{"n": i}})
		bDeliveries = append(bDeliveries, out.Deliveries[0].ID.String())
		time.Sleep(100 * time.Millisecond)
	}
	for _, id := range bDeliveries {
		app.WaitStatus(keyB, id, "delivered", 10*time.Second)
	}
	// Every one of B's deliveries arrived while A's attempts were still hanging: none of
	// A's has been answered or timed out yet.
	if held := hang.holding.Load(); held < 10 {
		t.Fatalf("B's deliveries arrived after A's attempts ended (%d still held)", held)
	}
	if got := len(healthy.Requests()); got != 10 {
		t.Fatalf("B's endpoint got %d requests, want 10", got)
	}
	// A holds at most its in-flight cap; the rest of its deliveries wait, visibly, without
	// an attempt.
	hang.mu.Lock()
	maxHeld := hang.maxHolding
	hang.mu.Unlock()
	if maxHeld > 10 || hang.received.Load() > 10 {
		t.Fatalf("A's endpoint held up to %d requests (%d received), want at most the cap of 10", maxHeld, hang.received.Load())
	}
	waiting := 0
	for _, id := range aDeliveries[100:] {
		d := app.Delivery(keyA, id)
		if d.WaitingReason != nil && *d.WaitingReason == "in_flight_cap" && d.WaitingSince != nil && d.Attempts == 0 && d.Status == "pending" {
			waiting++
		}
	}
	if waiting == 0 {
		t.Fatalf("none of A's later deliveries shows that it waits behind the in-flight cap")
	}
	metrics := app.MustDo(http.StatusOK, "GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics.Body), `hookflow_waiting_deliveries{reason="in_flight_cap"}`) {
		t.Errorf("/metrics has no waiting gauge")
	}

	// Released, A's endpoint answers: every delivery is delivered with exactly one attempt,
	// the waits having spent none.
	hang.stop()
	for _, id := range aDeliveries {
		d := app.WaitStatus(keyA, id, "delivered", 60*time.Second)
		if d.Attempts != 1 || len(d.AttemptLog) != 1 || d.AttemptLog[0].Number != 1 || d.WaitingReason != nil {
			t.Fatalf("delivery %s: %d attempts %+v, waiting %v", id, d.Attempts, d.AttemptLog, d.WaitingReason)
		}
	}
}

// A rate limit of 5/s holds for a burst of 50: the endpoint never sees more than 5
// requests (plus the one of jitter the documentation allows) in any second, and no wait
// costs an attempt.
func TestRateLimitSpacesRequests(t *testing.T) {
	app := startApp(t, AppOptions{})
	key := app.NewAccount("limited")
	r := newReceiver(t, always(http.StatusOK))
	app.Subscribe(key, r.URL, map[string]any{"rate_limit": 5})
	var ids []string
	for i := 0; i < 50; i++ {
		ids = append(ids, app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{"n": i}}).Deliveries[0].ID.String())
	}
	sawWaiting := false
	for _, id := range ids {
		d := app.WaitDelivery(key, id, 60*time.Second, func(d Delivery) bool {
			if d.WaitingReason != nil && *d.WaitingReason == "rate_limited" {
				sawWaiting = true
			}
			return d.Status == "delivered"
		})
		if d.Attempts != 1 {
			t.Fatalf("delivery %s took %d attempts", id, d.Attempts)
		}
	}
	if !sawWaiting {
		t.Error("no delivery showed that it waited for the rate limit")
	}
	checkRate(t, arrivals(r.Requests()), 5)
}

func arrivals(reqs []Received) []time.Time {
	var at []time.Time
	for _, r := range reqs {
		at = append(at, r.At)
	}
	return at
}

// checkRate fails when any one-second window holds more than limit+1 arrivals.
func checkRate(t *testing.T, at []time.Time, limit int) {
	t.Helper()
	sort.Slice(at, func(i, j int) bool { return at[i].Before(at[j]) })
	worst := 0
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < time.Second; j++ {
			n++
		}
		worst = max(worst, n)
	}
	if worst > limit+1 {
		t.Fatalf("%d requests arrived within one second, limit %d (+1)", worst, limit)
	}
	ideal := time.Duration(len(at)-1) * time.Second / time.Duration(limit)
	span := at[len(at)-1].Sub(at[0])
	if span < ideal*8/10 {
		t.Fatalf("%d requests in %s: faster than %d/s", len(at), span, limit)
	}
	// Waiters wake at their own turns, so the limit is used, not just respected (with
	// room for timer latency on a loaded machine).
	if span > ideal*2 {
		t.Fatalf("%d requests in %s at a limit of %d/s: less than half the rate allowed", len(at), span, limit)
	}
	t.Logf("%d requests in %s (%.1f/s at a limit of %d/s)", len(at), span, float64(len(at)-1)/span.Seconds(), limit)
}

// A 429 with Retry-After on one delivery holds the subscription's other deliveries back
// for that long, without an attempt; they go out when it ends.
func TestThrottlingAnswerHoldsBackTheSubscription(t *testing.T) {
	app := startApp(t, AppOptions{})
	key := app.NewAccount("throttled")
	var throttledAt atomic.Value
	r := newReceiver(t, func(n int) int {
		if n == 1 {
			throttledAt.Store(time.Now())
			return http.StatusTooManyRequests
		}
		return http.StatusOK
	})
	r.Config.Handler = retryAfter(r.Config.Handler, "2")
	app.Subscribe(key, r.URL, nil)
	first := app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{}}).Deliveries[0].ID.String()
	app.WaitStatus(key, first, "retrying", 10*time.Second)

	var siblings []string
	for i := 0; i < 5; i++ {
		siblings = append(siblings, app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{"n": i}}).Deliveries[0].ID.String())
	}
	held := app.WaitDelivery(key, siblings[4], 5*time.Second, func(d Delivery) bool {
		return d.WaitingReason != nil || d.Status == "delivered"
	})
	if held.WaitingReason == nil || *held.WaitingReason != "throttled" || held.Attempts != 0 {
		t.Fatalf("a sibling was not held back as throttled: %+v", held)
	}
	for _, id := range append(siblings, first) {
		app.WaitStatus(key, id, "delivered", 20*time.Second)
	}
	t0 := throttledAt.Load().(time.Time)
	reqs := r.Requests()
	if len(reqs) != 7 { // the 429, the first's retry, five siblings
		t.Fatalf("endpoint got %d requests, want 7", len(reqs))
	}
	for _, req := range reqs[1:] {
		if gap := req.At.Sub(t0); gap < 1900*time.Millisecond {
			t.Fatalf("a request came %s after the 429 that asked for 2 s", gap)
		}
	}
	for _, id := range siblings {
		if d := app.Delivery(key, id); d.Attempts != 1 {
			t.Fatalf("sibling %s made %d attempts", id, d.Attempts)
		}
	}
	if d := app.Delivery(key, first); d.Attempts != 2 {
		t.Fatalf("the throttled delivery made %d attempts, want 2 (the 429 counts)", d.Attempts)
	}
	metrics := app.MustDo(http.StatusOK, "GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics.Body), `hookflow_throttling_answers_total{code="429"} 1`) {
		t.Errorf("/metrics does not count the throttling answer")
	}
}

func retryAfter(next http.Handler, value string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", value)
		next.ServeHTTP(w, r)
	})
}

// Two worker processes share one rate limit: it lives in PostgreSQL, not in a process.
func TestRateLimitIsSharedByWorkerProcesses(t *testing.T) {
	app := startApp(t, AppOptions{})
	second := startWorker(t, app)
	key := app.NewAccount("two-workers")
	r := newReceiver(t, always(http.StatusOK))
	app.Subscribe(key, r.URL, map[string]any{"rate_limit": 4})
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, app.Publish(key, map[string]any{"event_type": "a.b", "data": map[string]any{"n": i}}).Deliveries[0].ID.String())
	}
	for _, id := range ids {
		if d := app.WaitStatus(key, id, "delivered", 60*time.Second); d.Attempts != 1 {
			t.Fatalf("delivery %s took %d attempts", id, d.Attempts)
		}
	}
	// Both processes sent some: otherwise this would test one process's limit.
	for name, logs := range map[string]string{"serve": app.logs.Tail(1 << 20), "serve --worker": second.logs.Tail(1 << 20)} {
		if !strings.Contains(logs, `"msg":"attempt"`) {
			t.Fatalf("the %s process made no attempt; the test needs both", name)
		}
	}
	checkRate(t, arrivals(r.Requests()), 4)
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
