package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookflow/hookflow"
)

// Nothing lost under faults: each test breaks one real process (the worker, Temporal,
// PostgreSQL, the endpoint, the serve process itself) while deliveries are in flight, and
// then checks the records in PostgreSQL directly.

func TestFaultKillWorkerMidBurst(t *testing.T) {
	t.Parallel()
	counts := reliabilityCounts(t, "faults", "worker killed (SIGKILL) mid-burst, new worker started")
	app := startApp(t, AppOptions{TemporalAddress: privateTemporal(t), Namespace: "default", Args: []string{"--api"}})
	key := app.NewAccount("acme")
	rcv := newTally(t, 0)
	const subscriptions, events = 5, 100
	const total = subscriptions * events
	pathOf := map[string]string{}
	for i := 0; i < subscriptions; i++ {
		path := fmt.Sprintf("/s%d", i)
		pathOf[app.Subscribe(key, rcv.URL+path, map[string]any{"max_retries": 10}).ID] = path
	}
	worker := startWorker(t, app)

	// The burst, posted by a few clients at once; the API runs in its own process, so
	// ingest goes on whatever happens to the worker.
	var posted, postFailures atomic.Int32
	var firstFailure atomic.Value
	numbers := make(chan int)
	var posting sync.WaitGroup
	began := time.Now()
	for c := 0; c < 8; c++ {
		posting.Add(1)
		go func() {
			defer posting.Done()
			client := &http.Client{Timeout: 30 * time.Second}
			for i := range numbers {
				r := callAPI(client, "POST", app.URL+"/v1/events", key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)})
				if r.Err != nil || r.Status != http.StatusAccepted {
					postFailures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", r.Status, r.Body, r.Err))
				}
				posted.Add(1)
			}
		}()
	}
	go func() {
		for i := 0; i < events; i++ {
			numbers <- i
		}
		close(numbers)
	}()

	// Kill the worker when about a third is delivered.
	deadline := time.Now().Add(120 * time.Second)
	var deliveredAtKill int
	for {
		by, _, err := deliveryProgress(app.DB)
		if err != nil {
			t.Fatal(err)
		}
		if deliveredAtKill = by["delivered"]; deliveredAtKill >= total/3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d delivered after 120 s, before any fault:\n%s", deliveredAtKill, total, worker.logs.Tail(3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	worker.Kill()
	killed := time.Now()
	requestsAtKill, _, _ := rcv.counts()
	postedAtKill := posted.Load()
	if deliveredAtKill >= total {
		t.Fatalf("everything was delivered before the kill: the fault hit nothing")
	}
	worker.Start()
	restarted := time.Now()
	posting.Wait()
	if n := postFailures.Load(); n > 0 {
		t.Fatalf("%d of %d events were not accepted; first: %v", n, events, firstFailure.Load())
	}

	waitDelivered(t, app.DB, total, 240*time.Second, func() string { return worker.logs.Tail(3000) })
	drain, burst := time.Since(killed), time.Since(began)
	stats := checkRecords(t, app.DB)
	if stats.Deliveries != total {
		t.Errorf("%d deliveries stored, want %d", stats.Deliveries, total)
	}
	var rows []struct {
		EventID        string `db:"event_id"`
		SubscriptionID string `db:"subscription_id"`
	}
	if err := app.DB.Select(&rows, `SELECT event_id, subscription_id FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, r := range rows {
		if rcv.got(pathOf[r.SubscriptionID], r.EventID) == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d delivered deliveries never reached their endpoint", missing)
	}
	requests, _, distinct := rcv.counts()
	duplicates := requests - distinct
	t.Logf("%d deliveries (%d events × %d subscriptions); SIGKILL with %d events posted, %d deliveries delivered (%d requests received), %d still open; "+
		"new worker up %s after the kill; all delivered %s after the kill (%s after the burst began)",
		total, events, subscriptions, postedAtKill, deliveredAtKill, requestsAtKill, total-deliveredAtKill,
		restarted.Sub(killed).Round(time.Millisecond), drain.Round(time.Millisecond), burst.Round(time.Millisecond))
	t.Logf("attempt rows %d (max %d per delivery, %d deliveries with more than one); receiver: %d requests for %d deliveries, %d duplicates (at-least-once)",
		stats.Attempts, stats.MaxAttempts, stats.Retried, requests, distinct, duplicates)
	counts["deliveries"] = total
	counts["open_at_kill"] = total - deliveredAtKill
	counts["delivered"] = stats.Deliveries
	counts["attempt_rows"] = stats.Attempts
	counts["duplicate_requests"] = duplicates
	counts["missing"] = missing
	counts["drain_s"] = int(drain.Seconds())
}

func TestFaultTemporalStoppedDuringIngest(t *testing.T) {
	t.Parallel()
	counts := reliabilityCounts(t, "faults", "Temporal stopped during ingest, then restarted")
	own, err := startOwnTemporal(t)
	if err != nil {
		t.Fatal(err)
	}
	app := startApp(t, AppOptions{TemporalAddress: own.addr, Namespace: "default"})
	// An API replica alone on the same database: ready while Temporal is down.
	apiOnly := startAppOn(t, app.DSN, AppOptions{TemporalAddress: own.addr, Namespace: "default", Args: []string{"--api"}})
	key := app.NewAccount("acme")
	rcv := newTally(t, 0)
	app.Subscribe(key, rcv.URL+"/hook", nil)

	// One client posts at a steady pace (at most 50 events a second) the whole time:
	// before the stop, while the server is stopping, and while it is down.
	const beforeStop, whileDown = 100, 100
	var (
		posted, duringStop, postedWhileDown, failures atomic.Int32
		phase                                         atomic.Int32 // 0 up, 1 stopping, 2 down
		firstFailure                                  atomic.Value
		half                                          = make(chan struct{})
		done                                          = make(chan struct{})
	)
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 10 * time.Second}
		pace := time.NewTicker(20 * time.Millisecond)
		defer pace.Stop()
		for i := 0; i < 2000 && postedWhileDown.Load() < whileDown; i++ {
			if i == beforeStop {
				close(half)
			}
			<-pace.C
			before := phase.Load()
			r := callAPI(client, "POST", app.URL+"/v1/events", key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)})
			if r.Err != nil || r.Status != http.StatusAccepted {
				failures.Add(1)
				firstFailure.CompareAndSwap(nil, fmt.Sprintf("event %d: %d %s %v", i, r.Status, r.Body, r.Err))
			}
			posted.Add(1)
			switch {
			case before == 2:
				postedWhileDown.Add(1)
			case before == 1 || phase.Load() > 0:
				duringStop.Add(1)
			}
		}
	}()
	<-half
	phase.Store(1)
	own.stop()
	phase.Store(2)
	stopped := time.Now()
	<-done
	readyWhileDown := app.Do("GET", "/readyz", "", nil).Status
	// The API replica stays ready, says Temporal is unreachable, takes events, and answers
	// what needs Temporal with 503 and Retry-After.
	waitFor(t, 15*time.Second, "the API replica to see Temporal down", func() bool {
		return strings.Contains(string(apiOnly.Do("GET", "/readyz", "", nil).Body), `"temporal":"unreachable"`)
	})
	apiReady := apiOnly.Do("GET", "/readyz", "", nil)
	if apiReady.Status != http.StatusOK {
		t.Errorf("/readyz of serve --api with Temporal down: %d %s, want 200", apiReady.Status, apiReady.Body)
	}
	if !strings.Contains(string(apiOnly.Do("GET", "/metrics", "", nil).Body), "hookflow_temporal_reachable 0") {
		t.Error("the API replica's metrics do not show Temporal unreachable")
	}
	var extra Ingested
	apiOnly.MustDo(http.StatusAccepted, "POST", "/v1/events", key, map[string]any{"event_type": "promoter.created", "entity_id": "while-down"}).JSON(t, &extra)
	posted.Add(1)
	retry := apiOnly.Do("POST", "/v1/deliveries/"+extra.Deliveries[0].ID.String()+"/retry", key, nil)
	if retry.Status != http.StatusServiceUnavailable || retry.Header.Get("Retry-After") == "" {
		t.Errorf("a manual retry with Temporal down: %d (Retry-After %q) %s, want 503 with Retry-After", retry.Status, retry.Header.Get("Retry-After"), retry.Body)
	}
	check := apiOnly.Do("POST", "/v1/fulfilment-checks", key, nil)
	if check.Status != http.StatusServiceUnavailable || check.Header.Get("Retry-After") == "" {
		t.Errorf("a fulfilment check with Temporal down: %d %s, want 503 with Retry-After", check.Status, check.Body)
	}
	own.start(t)
	restarted := time.Now()
	if n := failures.Load(); n > 0 {
		t.Errorf("%d POSTs were not answered 202; first: %v", n, firstFailure.Load())
	}
	if readyWhileDown != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Temporal down: %d, want 503", readyWhileDown)
	}
	total := int(posted.Load())
	var deliveries int
	if err := app.DB.Get(&deliveries, `SELECT count(*) FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	if deliveries != total {
		t.Fatalf("%d deliveries stored for %d accepted events", deliveries, total)
	}
	by, _, _ := deliveryProgress(app.DB)
	drain := waitDelivered(t, app.DB, total, 240*time.Second, func() string { return app.logs.Tail(3000) })
	stats := checkRecords(t, app.DB)
	var eventIDs []string
	if err := app.DB.Select(&eventIDs, `SELECT event_id FROM deliveries`); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for _, id := range eventIDs {
		if rcv.got("/hook", id) == 0 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d delivered deliveries never reached the endpoint", missing)
	}
	requests, _, distinct := rcv.counts()
	t.Logf("%d events posted, all answered 202: %d before the stop, %d while Temporal was stopping, %d while it was down (%s); "+
		"open at restart: %v; all delivered %s after the restart",
		total, total-int(duringStop.Load()+postedWhileDown.Load()), duringStop.Load(), postedWhileDown.Load(),
		restarted.Sub(stopped).Round(time.Millisecond), by, drain.Round(time.Millisecond))
	t.Logf("attempt rows %d (max %d per delivery); receiver: %d requests for %d deliveries, %d duplicates",
		stats.Attempts, stats.MaxAttempts, requests, distinct, requests-distinct)
	counts["events_posted"] = total
	counts["posted_while_stopping"] = int(duringStop.Load())
	counts["posted_while_down"] = int(postedWhileDown.Load())
	counts["non_202"] = int(failures.Load())
	counts["delivered"] = stats.Deliveries
	counts["duplicate_requests"] = requests - distinct
	counts["missing"] = missing
	counts["drain_s"] = int(drain.Seconds())
}

func TestFaultPostgresRestartWithDeliveriesInFlight(t *testing.T) {
	t.Parallel()
	counts := reliabilityCounts(t, "faults", "PostgreSQL restarted with deliveries in flight")
	pg := startPrivatePostgres(t)
	app := startAppOn(t, pg.DSN, AppOptions{TemporalAddress: privateTemporal(t), Namespace: "default"})
	key := app.NewAccount("acme")
	// Every answer takes 300 ms; the flaky path fails each delivery's first two requests.
	rcv := newTally(t, 300*time.Millisecond)
	rcv.failFirst["/flaky"] = 2
	app.Subscribe(key, rcv.URL+"/slow", nil)
	app.Subscribe(key, rcv.URL+"/flaky", map[string]any{"max_retries": 5})
	const events = 40
	for i := 0; i < events; i++ {
		app.Publish(key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)})
	}
	total := 2 * events

	deadline := time.Now().Add(60 * time.Second)
	for {
		if requests, _, _ := rcv.counts(); requests >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the endpoint got fewer than 20 requests in 60 s:\n%s", app.logs.Tail(3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	by, _, err := deliveryProgress(app.DB)
	if err != nil {
		t.Fatal(err)
	}
	open := total - by["delivered"]
	if open == 0 {
		t.Fatalf("everything was delivered before the fault")
	}
	pg.Stop()
	stoppedAt := time.Now()

	// While the database is down, the API answers 503 with the error JSON, quickly.
	client := &http.Client{Timeout: 5 * time.Second}
	var answers, wrong int
	var slowest time.Duration
	for round := 0; round == 0 || time.Since(stoppedAt) < 3*time.Second; round++ {
		for _, call := range []struct{ method, path string }{{"POST", "/v1/events"}, {"GET", "/v1/deliveries"}} {
			var body any
			if call.method == "POST" {
				body = map[string]any{"event_type": "promoter.created"}
			}
			r := callAPI(client, call.method, app.URL+call.path, key, body)
			answers++
			slowest = max(slowest, r.Took)
			var e struct {
				Error struct {
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			decodeErr := json.Unmarshal(r.Body, &e)
			if r.Err != nil || r.Status != http.StatusServiceUnavailable || decodeErr != nil ||
				e.Error.Code != hookflow.EUNAVAILABLE || e.Error.Message == "" || r.Took > 3*time.Second {
				wrong++
				if wrong <= 5 {
					t.Errorf("%s %s with PostgreSQL down: status %d in %s, body %s, error %v; want a quick 503 with code %q",
						call.method, call.path, r.Status, r.Took.Round(time.Millisecond), r.Body, r.Err, hookflow.EUNAVAILABLE)
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	readyWhileDown := app.Do("GET", "/readyz", "", nil)
	if readyWhileDown.Status != http.StatusServiceUnavailable || !strings.Contains(string(readyWhileDown.Body), "PostgreSQL") {
		t.Errorf("/readyz with PostgreSQL down: %d %s, want 503 naming PostgreSQL", readyWhileDown.Status, readyWhileDown.Body)
	}
	pg.Start()
	downFor := time.Since(stoppedAt)

	// The API takes events again (a 503 while its pool replaces dead connections is what
	// the contract allows; a 500 or a hang is not), and what was in flight completes.
	var late Ingested
	var unavailableAfter int
	for retryUntil := time.Now().Add(15 * time.Second); ; {
		r := callAPI(client, "POST", app.URL+"/v1/events", key, map[string]any{"event_type": "promoter.created", "entity_id": "after-restart"})
		if r.Err == nil && r.Status == http.StatusAccepted {
			if err := json.Unmarshal(r.Body, &late); err != nil {
				t.Fatal(err)
			}
			break
		}
		if r.Status != http.StatusServiceUnavailable || time.Now().After(retryUntil) {
			t.Fatalf("POST /v1/events after PostgreSQL restarted: %d %s %v", r.Status, r.Body, r.Err)
		}
		unavailableAfter++
		time.Sleep(200 * time.Millisecond)
	}
	total += len(late.Deliveries)
	drain := waitDelivered(t, app.DB, total, 180*time.Second, func() string { return app.logs.Tail(4000) })
	stats := checkRecords(t, app.DB)
	if stats.Deliveries != total {
		t.Errorf("%d deliveries stored, want %d", stats.Deliveries, total)
	}
	requests, _, distinct := rcv.counts()
	t.Logf("%d deliveries; %d open when PostgreSQL stopped; down %s; %d API calls while down, all 503 in at most %s (%d wrong); "+
		"%d 503s after the restart before an event was accepted; all delivered %s after the restart", total, open,
		downFor.Round(time.Millisecond), answers, slowest.Round(time.Millisecond), wrong, unavailableAfter, drain.Round(time.Millisecond))
	t.Logf("attempt rows %d (max %d per delivery, %d deliveries retried); receiver: %d requests for %d deliveries",
		stats.Attempts, stats.MaxAttempts, stats.Retried, requests, distinct)
	counts["deliveries"] = total
	counts["open_at_stop"] = open
	counts["api_calls_while_down"] = answers
	counts["not_quick_503"] = wrong
	counts["slowest_503_ms"] = int(slowest.Milliseconds())
	counts["503_after_restart"] = unavailableAfter
	counts["delivered"] = stats.Deliveries
	counts["attempt_rows"] = stats.Attempts
	counts["drain_s"] = int(drain.Seconds())
}

func TestFaultEndpointsThatMisbehave(t *testing.T) {
	t.Parallel()
	counts := reliabilityCounts(t, "faults", "endpoints that hang, reset, close, answer late or never stop")
	app := startApp(t, AppOptions{TemporalAddress: privateTemporal(t), Namespace: "default"})
	key := app.NewAccount("acme")
	streamed := &atomic.Int64{}
	endpoints := []struct {
		name string
		url  string
	}{
		{"hang", hangingEndpoint(t)},
		{"reset", hijackingEndpoint(t, true)},
		{"close", hijackingEndpoint(t, false)},
		{"slow-headers", slowHeadersEndpoint(t, 3*time.Second)},
		{"endless-body", endlessBodyEndpoint(t, streamed)},
		{"endless-headers", endlessHeadersEndpoint(t)},
	}
	kindOf := map[string]string{}
	for _, e := range endpoints {
		kindOf[app.Subscribe(key, e.url, map[string]any{"timeout": 1, "max_retries": 0}).ID] = e.name
	}
	rssBefore, err := rssMB(app.PID())
	if err != nil {
		t.Fatal(err)
	}
	const events = 10
	for i := 0; i < events; i++ {
		app.Publish(key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)})
	}
	total := events * len(endpoints)
	deadline := time.Now().Add(90 * time.Second)
	for {
		by, _, err := deliveryProgress(app.DB)
		if err != nil {
			t.Fatal(err)
		}
		if by["delivered"]+by["failed"] == total {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries by status after 90 s: %v, want all %d finished", by, total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	rssAfter, err := rssMB(app.PID())
	if err != nil {
		t.Fatal(err)
	}

	var rows []struct {
		SubscriptionID string `db:"subscription_id"`
		Status         string `db:"status"`
		Attempts       int    `db:"attempts"`
		LastError      string `db:"last_error"`
		ResponseCode   *int   `db:"response_code"`
		ResponseBody   string `db:"response_body"`
		Number         int    `db:"number"`
		DurationMS     int64  `db:"duration_ms"`
	}
	if err := app.DB.Select(&rows, `SELECT d.subscription_id, d.status, d.attempts, d.last_error, d.response_code, d.response_body,
		a.number, a.duration_ms FROM deliveries d JOIN attempts a ON a.delivery_id = d.id`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != total {
		t.Fatalf("%d attempt rows, want %d (one per delivery)", len(rows), total)
	}
	const timeout, slack = int64(1000), int64(4000)
	longest := map[string]int64{}
	errorsSeen := map[string]string{}
	for _, r := range rows {
		kind := kindOf[r.SubscriptionID]
		longest[kind] = max(longest[kind], r.DurationMS)
		errorsSeen[kind] = r.LastError
		problem := ""
		switch kind {
		case "hang", "slow-headers":
			if r.Status != "failed" || !strings.HasPrefix(r.LastError, "timed out") || r.ResponseCode != nil ||
				r.DurationMS < timeout-100 || r.DurationMS > timeout+slack {
				problem = "want failed, timed out after about 1 s, no response code"
			}
		case "reset":
			if r.Status != "failed" || !strings.HasPrefix(r.LastError, "connection reset") || r.DurationMS > timeout+slack {
				problem = "want failed with connection reset"
			}
		case "close":
			if r.Status != "failed" || !strings.HasPrefix(r.LastError, "connection closed") || r.DurationMS > timeout+slack {
				problem = "want failed with connection closed"
			}
		case "endless-headers":
			if r.Status != "failed" || !strings.Contains(r.LastError, "headers") || r.ResponseCode != nil || r.DurationMS > timeout+slack {
				problem = "want failed at the header limit, no response code"
			}
		case "endless-body":
			// The headers came in time, so the attempt is a 200; the body is read only as
			// far as the excerpt needs (and a bounded drain), so the attempt still ends.
			if r.Status != "delivered" || r.ResponseCode == nil || *r.ResponseCode != 200 ||
				utf8.RuneCountInString(r.ResponseBody) > hookflow.MaxResponseBodyChars || r.DurationMS > timeout+slack {
				problem = "want delivered with 200, an excerpt of at most 1000 characters, ended within the timeout"
			}
		default:
			problem = "unknown subscription"
		}
		if r.Number != 1 || r.Attempts != 1 {
			problem += fmt.Sprintf("; attempt number %d, deliveries.attempts %d, want 1", r.Number, r.Attempts)
		}
		if problem != "" {
			code := "none"
			if r.ResponseCode != nil {
				code = fmt.Sprint(*r.ResponseCode)
			}
			t.Errorf("%s: status %s, last_error %q, code %s, body %d chars, took %d ms: %s",
				kind, r.Status, r.LastError, code, utf8.RuneCountInString(r.ResponseBody), r.DurationMS, strings.TrimPrefix(problem, "; "))
		}
	}
	growth := rssAfter - rssBefore
	if growth >= 100 {
		t.Errorf("hookflow's RSS grew by %.1f MiB over %d attempts (%.1f → %.1f MiB), want < 100", growth, total, rssBefore, rssAfter)
	}
	for _, e := range endpoints {
		t.Logf("%-12s longest attempt %4d ms, last_error %q", e.name, longest[e.name], errorsSeen[e.name])
	}
	t.Logf("%d attempts (%d events × %d endpoints, timeout 1 s); endless body: %d KiB written by the endpoint in all (socket buffers take most), excerpt ≤ %d chars; "+
		"hookflow RSS %.1f MiB before, %.1f MiB after (%+.1f MiB)",
		total, events, len(endpoints), streamed.Load()>>10, hookflow.MaxResponseBodyChars, rssBefore, rssAfter, growth)
	counts["attempts"] = total
	for _, e := range endpoints {
		counts["longest_"+e.name+"_ms"] = int(longest[e.name])
	}
	counts["rss_growth_mb"] = int(growth + 0.5)
}

func TestFaultSigtermWithAttemptsInFlight(t *testing.T) {
	t.Parallel()
	counts := reliabilityCounts(t, "faults", "SIGTERM to serve with attempts in flight, then restart")
	app := startApp(t, AppOptions{TemporalAddress: privateTemporal(t), Namespace: "default"})
	const shutdownTimeout = 5 * time.Second // startApp's HOOKFLOW_SHUTDOWN_TIMEOUT
	key := app.NewAccount("acme")
	rcv := newTally(t, 2*time.Second)
	app.Subscribe(key, rcv.URL+"/slow", nil)
	const total = 50
	for i := 0; i < total; i++ {
		app.Publish(key, map[string]any{"event_type": "promoter.created", "entity_id": fmt.Sprint(i)})
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if requests, _, _ := rcv.counts(); requests >= 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 10 attempts started in 60 s:\n%s", app.logs.Tail(3000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	requestsAtTerm, answeredAtTerm, _ := rcv.counts()
	termAt := time.Now()
	if err := app.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused (or answered 503) from shortly after the signal until
	// the process is gone; nothing is accepted once they are.
	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	var firstRefusal time.Duration
	var refusedWhileRunning bool
	var acceptedAfterRefusal, probes int
	exitDeadline := time.After(shutdownTimeout + 10*time.Second)
	var exitedAfter time.Duration
wait:
	for {
		select {
		case <-app.exited:
			exitedAfter = time.Since(termAt)
			break wait
		case <-exitDeadline:
			t.Fatalf("hookflow still running %s after SIGTERM (HOOKFLOW_SHUTDOWN_TIMEOUT %s):\n%s",
				shutdownTimeout+10*time.Second, shutdownTimeout, app.logs.Tail(3000))
		default:
		}
		r := callAPI(probe, "GET", app.URL+"/v1/deliveries?limit=1", key, nil)
		probes++
		refused := errors.Is(r.Err, syscall.ECONNREFUSED) || r.Status == http.StatusServiceUnavailable
		switch {
		case refused && firstRefusal == 0:
			firstRefusal = time.Since(termAt)
			select {
			case <-app.exited:
			default:
				refusedWhileRunning = true
			}
		case !refused && firstRefusal > 0 && r.Err == nil && r.Status < 300:
			acceptedAfterRefusal++
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, answeredAtExit, _ := rcv.counts()
	if firstRefusal == 0 {
		r := callAPI(probe, "GET", app.URL+"/v1/deliveries?limit=1", key, nil)
		if !errors.Is(r.Err, syscall.ECONNREFUSED) {
			t.Errorf("after exit: %d %v, want connection refused", r.Status, r.Err)
		}
		firstRefusal = time.Since(termAt)
	}
	if firstRefusal > 3*time.Second {
		t.Errorf("the API still accepted requests %s after SIGTERM", firstRefusal.Round(time.Millisecond))
	}
	if acceptedAfterRefusal > 0 {
		t.Errorf("%d requests were accepted after the API had started refusing", acceptedAfterRefusal)
	}

	app.Start()
	restarted := time.Now()
	drain := waitDelivered(t, app.DB, total, 240*time.Second, func() string { return app.logs.Tail(4000) })
	stats := checkRecords(t, app.DB)
	requests, _, distinct := rcv.counts()
	t.Logf("%d deliveries against a 2 s endpoint; SIGTERM with %d requests in flight (%d received, %d answered); "+
		"new connections refused %s after SIGTERM (while still running: %v, %d probes); exit %s after SIGTERM "+
		"(HOOKFLOW_SHUTDOWN_TIMEOUT %s); %d in-flight answers completed during shutdown; all delivered %s after the restart",
		total, requestsAtTerm-answeredAtTerm, requestsAtTerm, answeredAtTerm, firstRefusal.Round(time.Millisecond),
		refusedWhileRunning, probes, exitedAfter.Round(time.Millisecond), shutdownTimeout, answeredAtExit-answeredAtTerm,
		time.Since(restarted).Round(time.Millisecond))
	t.Logf("attempt rows %d (max %d per delivery); receiver: %d requests for %d deliveries, %d duplicates",
		stats.Attempts, stats.MaxAttempts, requests, distinct, requests-distinct)
	counts["deliveries"] = total
	counts["in_flight_at_sigterm"] = requestsAtTerm - answeredAtTerm
	counts["finished_during_shutdown"] = answeredAtExit - answeredAtTerm
	counts["accepted_after_refusal"] = acceptedAfterRefusal
	counts["exit_ms"] = int(exitedAfter.Milliseconds())
	counts["delivered"] = stats.Deliveries
	counts["duplicate_requests"] = requests - distinct
	counts["drain_s"] = int(drain.Seconds())
}

// hangingEndpoint accepts connections, reads what comes, and never answers.
func hangingEndpoint(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, c) }()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + l.Addr().String() + "/hook"
}

// hijackingEndpoint reads the request and drops the connection without an answer: with
// an RST (SO_LINGER 0) when reset is set, with a FIN otherwise.
func hijackingEndpoint(t *testing.T, reset bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: unread data at close would turn a FIN into an RST.
		_, _ = io.Copy(io.Discard, r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		if tcp, ok := conn.(*net.TCPConn); ok && reset {
			_ = tcp.SetLinger(0)
		}
		conn.Close()
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// slowHeadersEndpoint answers after delay.
func slowHeadersEndpoint(t *testing.T, delay time.Duration) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(delay):
			w.WriteHeader(http.StatusOK)
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// endlessHeadersEndpoint starts a 200 answer and then sends header lines until the client
// goes away.
func endlessHeadersEndpoint(t *testing.T) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		line := "X-Padding: " + strings.Repeat("p", 1000) + "\r\n"
		if _, err := buf.WriteString("HTTP/1.1 200 OK\r\n"); err != nil {
			return
		}
		for {
			if _, err := buf.WriteString(line); err != nil || buf.Flush() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// endlessBodyEndpoint answers 200 at once and then streams a chunked body until the
// client goes away; streamed counts the bytes written.
func endlessBodyEndpoint(t *testing.T, streamed *atomic.Int64) string {
	chunk := []byte(strings.Repeat("endless ", 2048))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for r.Context().Err() == nil {
			n, err := w.Write(chunk)
			streamed.Add(int64(n))
			if err != nil || rc.Flush() != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/hook"
}

// The reliability report: each fault and security test records a row; when
// HOOKFLOW_RELIABILITY_REPORT names a file, the run ends by writing them there as a
// Markdown table.

type reliabilityRow struct {
	Area, Scenario, Result string
	Counts                 map[string]int
}

var reliability struct {
	sync.Mutex
	rows []reliabilityRow
}

// recordReliability adds a row to the report.
func recordReliability(area, scenario, result string, counts map[string]int) {
	copied := make(map[string]int, len(counts))
	for k, v := range counts {
		copied[k] = v
	}
	reliability.Lock()
	defer reliability.Unlock()
	reliability.rows = append(reliability.rows, reliabilityRow{Area: area, Scenario: scenario, Result: result, Counts: copied})
}

// resultOf is a test's result so far, for its report row.
func resultOf(t *testing.T) string {
	if t.Failed() {
		return "FAIL"
	}
	return "pass"
}

// reliabilityCounts returns the counts a test fills in; its row is recorded when the test
// ends, failed or not.
func reliabilityCounts(t *testing.T, area, scenario string) map[string]int {
	counts := map[string]int{}
	t.Cleanup(func() { recordReliability(area, scenario, resultOf(t), counts) })
	return counts
}

// writeReliabilityReport writes the recorded rows, sorted by area and scenario, to the
// file HOOKFLOW_RELIABILITY_REPORT names; without it, it does nothing.
func writeReliabilityReport() {
	path := os.Getenv("HOOKFLOW_RELIABILITY_REPORT")
	if path == "" {
		return
	}
	reliability.Lock()
	rows := append([]reliabilityRow(nil), reliability.rows...)
	reliability.Unlock()
	sort.SliceStable(rows, func(i, j int) bool {
		if rows[i].Area != rows[j].Area {
			return rows[i].Area < rows[j].Area
		}
		return rows[i].Scenario < rows[j].Scenario
	})
	cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	var b strings.Builder
	b.WriteString("# hookflow reliability report\n\n| Area | Scenario | Result | Counts |\n|---|---|---|---|\n")
	for _, r := range rows {
		keys := make([]string, 0, len(r.Counts))
		for k := range r.Counts {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = fmt.Sprintf("%s=%d", k, r.Counts[k])
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", cell(r.Area), cell(r.Scenario), cell(r.Result), cell(strings.Join(parts, ", ")))
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "write reliability report:", err)
	}
}

// Small conversions for report counts.

func intOr(p *int, otherwise int) int {
	if p == nil {
		return otherwise
	}
	return *p
}

func atoiOr(s string, otherwise int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return otherwise
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
